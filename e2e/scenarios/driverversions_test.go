//go:build e2e

package scenarios

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

// TestDriverVersions: driver v1.6.1 rotates only on kubelet's republish and
// never sends the current object versions; v1.5.6 still has its own
// rotation reconciler, which calls the provider by itself with fresh tokens
// and the versions it recorded. The daemon must work with both.
func TestDriverVersions(t *testing.T) {
	localOnly(t, "the provider socket tap and driver v1.5.6")
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)

	t.Run("v1.6.1 sends no current versions, even on republish", func(t *testing.T) {
		secret := ns + "-v161"
		createSecret(t, primaryRegion, secret, "a1")
		createSPC(t, ns, spc{Name: "v161", Parameters: map[string]string{
			"region": primaryRegion, "objects": fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n  objectAlias: value\n", secret),
		}})
		p := mounted(t, ns, sa, "v161")
		putSecretValue(t, primaryRegion, secret, "a2")
		p.waitPastPollInterval(t)
		p.mustPublish(t)
		p.wantFile(t, "value", "a2")
		ms := env.tap.Mounts(p.Vol.TargetPath)
		if len(ms) != 2 {
			t.Fatalf("Mount calls = %d, want 2", len(ms))
		}
		for i, m := range ms {
			if m.CurrentVersions != 0 {
				t.Errorf("Mount %d carried %d current object versions; v1.6.1 sends none", i+1, m.CurrentVersions)
			}
		}
	})

	t.Run("v1.5.6 rotates by itself and passes the current versions", func(t *testing.T) {
		providers, _ := env.ws.Mkdir("providers-v156")
		tap, err := cluster.StartProviderTap(filepath.Join(providers, "aws.sock"), env.daemon.SocketPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tap.Close)
		_, k := secondDriver(t, "v1.5.6", "e2e-node-v156", providers)

		secret := ns + "-v156"
		createSecret(t, primaryRegion, secret, "b1")
		createSPC(t, ns, spc{Name: "v156", Parameters: map[string]string{
			"region": primaryRegion, "objects": fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n  objectAlias: value\n", secret),
		}})
		p := newPod(t, k, ns, sa, "v156")
		p.mustPublish(t)
		p.wantFile(t, "value", "b1")
		// The reconciler may already have run; the first call is kubelet's.
		if ms := tap.Mounts(p.Vol.TargetPath); len(ms) == 0 || ms[0].CurrentVersions != 0 {
			t.Errorf("first Mount: %+v; want a call without current versions (v1.5 NodePublishVolume sends none)", ms)
		}

		putSecretValue(t, primaryRegion, secret, "b2")
		// No republish from kubelet: the driver's reconciler must do it.
		err = cluster.WaitFor(6*pollInterval, 250*time.Millisecond, func() (bool, error) {
			v, err := p.Vol.ReadFile("value")
			return v == "b2", err
		})
		if err != nil {
			t.Fatalf("the v1.5.6 reconciler did not rotate the file: %v\ntap: %+v", err, tap.Mounts(p.Vol.TargetPath))
		}
		withVersions := 0
		for _, m := range tap.Mounts(p.Vol.TargetPath) {
			if m.CurrentVersions > 0 {
				withVersions++
			}
			if m.Code != "OK" {
				t.Errorf("a reconciler Mount failed: %s %s", m.Code, m.Message)
			}
		}
		if withVersions == 0 {
			t.Errorf("no Mount from the v1.5.6 reconciler carried current object versions")
		}
	})
}
