//go:build e2e

package scenarios

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
	"github.com/csi-provider-aws/csi-provider-aws/e2e/kubelet"
)

// secondDriver starts another driver with its own node, provider directory
// and kubelet stand-in, stopped when the test ends.
func secondDriver(t *testing.T, version, node, providerDir string) (*cluster.Driver, *kubelet.Kubelet) {
	t.Helper()
	ctx := testContext(t)
	if err := env.createNode(ctx, node); err != nil {
		t.Fatalf("node %s: %v", node, err)
	}
	d, err := cluster.StartDriver(ctx, env.ws, cluster.DriverOptions{
		Version:              version,
		Name:                 "driver-" + node,
		NodeID:               node,
		ProviderDir:          providerDir,
		Kubeconfig:           env.driverKubeconfig,
		RotationPollInterval: pollInterval,
	})
	if err != nil {
		t.Fatalf("driver %s: %v", version, err)
	}
	k, err := kubelet.New(env.cp.Client, d.Endpoint, cluster.DriverName, node, env.ws.Path("kubelet-"+node))
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the pods' own cleanups.
	t.Cleanup(func() {
		k.Close()
		assertLoopbackOnly(t, d.Proc.Pid())
		d.Stop()
	})
	return d, k
}

// TestDaemonRestart: the daemon is stopped (SIGTERM) and later killed
// (SIGKILL, leaving its socket file behind) between republishes; the
// mounted files stay intact while it is away, and the next republish after
// it is back works. Here the daemon listens on the driver's provider
// directory itself, with no tap in between, so the socket handling is the
// daemon's own.
func TestDaemonRestart(t *testing.T) {
	localOnly(t, "a daemon and a driver of its own")
	dir, _ := env.ws.Mkdir("providers-direct")
	d, err := env.startDaemon(testContext(t), dir)
	if err != nil {
		t.Fatalf("starting the daemon: %v", err)
	}
	t.Cleanup(d.Stop)
	_, k := secondDriver(t, "v1.6.1", "e2e-node-direct", dir)

	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	secret := ns + "-restart"
	createSecret(t, primaryRegion, secret, "v1")
	createSPC(t, ns, spc{Name: "restart", Parameters: map[string]string{
		"region": primaryRegion, "objects": fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n  objectAlias: value\n", secret),
	}})
	p := newPod(t, k, ns, sa, "restart")
	p.mustPublish(t)
	p.wantFile(t, "value", "v1")

	t.Run("SIGTERM removes the socket and leaves the files", func(t *testing.T) {
		d.Stop()
		if _, err := os.Stat(d.SocketPath); !os.IsNotExist(err) {
			t.Errorf("socket %s still there after SIGTERM (%v)", d.SocketPath, err)
		}
		putSecretValue(t, primaryRegion, secret, "v2")
		p.waitPastPollInterval(t)
		// kubelet keeps republishing while the daemon is away; whatever the
		// driver answers, the pod's files must stay as they were.
		err := p.publishWithin(t, 5*time.Second)
		t.Logf("republish while the daemon is away: %v", err)
		p.wantFile(t, "value", "v1")
	})

	t.Run("started again, the next republish brings the new value", func(t *testing.T) {
		if err := d.Restart(testContext(t)); err != nil {
			t.Fatalf("restarting the daemon: %v", err)
		}
		p.waitPastPollInterval(t)
		took := p.publishUntilOK(t, time.Minute)
		t.Logf("first successful republish %v after the restart", took.Round(time.Millisecond))
		p.wantFile(t, "value", "v2")
	})

	t.Run("after SIGKILL the stale socket is replaced", func(t *testing.T) {
		d.Proc.Kill()
		if fi, err := os.Lstat(d.SocketPath); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Logf("after SIGKILL the socket file is %v (%v)", fi, err)
		}
		putSecretValue(t, primaryRegion, secret, "v3")
		if err := d.Restart(testContext(t)); err != nil {
			t.Fatalf("starting the daemon over its stale socket: %v\n%s", err, d.Proc.LogTail(10))
		}
		p.waitPastPollInterval(t)
		took := p.publishUntilOK(t, time.Minute)
		t.Logf("first successful republish %v after the restart", took.Round(time.Millisecond))
		p.wantFile(t, "value", "v3")
	})
}
