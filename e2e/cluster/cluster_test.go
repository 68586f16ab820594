//go:build e2e

package cluster

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func requireBinaries(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := Binary(n); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
	}
}

// TestControlPlaneComesUpAndLeavesNothingBehind starts etcd, kube-apiserver
// and kube-controller-manager, checks what the suite relies on (version,
// the AWS audiences, the controllers), then tears down and checks that no
// process, port, mount or directory is left.
func TestControlPlaneComesUpAndLeavesNothingBehind(t *testing.T) {
	requireBinaries(t, "etcd", "kube-apiserver", "kube-controller-manager")
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount tmpfs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ws, err := NewWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	torn := false
	t.Cleanup(func() {
		if !torn {
			_, _ = ws.Teardown(true)
		}
	})
	start := time.Now()
	cp, err := StartControlPlane(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane ready in %v", time.Since(start).Round(time.Millisecond))

	v, err := cp.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.2" {
		t.Errorf("apiserver version %s, want v1.37.2", v.GitVersion)
	}
	for _, aud := range Audiences {
		_, err := cp.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{aud}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Errorf("TokenRequest for audience %s: %v", aud, err)
		}
	}
	// The root CA publisher runs: kube-root-ca.crt appears in a namespace.
	if err := WaitFor(30*time.Second, 200*time.Millisecond, func() (bool, error) {
		_, err := cp.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, err
	}); err != nil {
		t.Errorf("kube-root-ca.crt: %v", err)
	}

	ls, err := ListenersOf(ws.Pids()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) < 4 {
		t.Errorf("listeners %v: expected etcd (3), apiserver and kcm", ls)
	}
	for _, l := range NonLoopback(ls) {
		t.Errorf("not loopback: %s", l)
	}

	// A tmpfs like the driver's, to prove teardown unmounts.
	mnt, _ := ws.Mkdir("kubelet", "pods", "x", "volumes", "kubernetes.io~csi", "v", "mount")
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}

	pids := ws.Pids()
	torn = true
	if _, err := ws.Teardown(false); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d still alive after teardown", pid)
		}
	}
	for _, l := range ls {
		c, err := net.DialTimeout("tcp", l.Addr.String(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after teardown", l.Addr.String())
		}
	}
	if ms, _ := MountsUnder(ws.Dir); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
	if _, err := os.Stat(ws.Dir); !os.IsNotExist(err) {
		t.Errorf("workspace %s not removed (%v)", ws.Dir, err)
	}
}

func TestCredentialScope(t *testing.T) {
	for _, c := range []struct{ auth, key, region, service string }{
		{"AWS4-HMAC-SHA256 Credential=ASIAX/20260101/us-west-2/secretsmanager/aws4_request, SignedHeaders=host, Signature=ab", "ASIAX", "us-west-2", "secretsmanager"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-central-1/ssm/aws4_request,SignedHeaders=host,Signature=ab", "AKID", "eu-central-1", "ssm"},
		{"", "", "", ""},
		{"Bearer x", "", "", ""},
	} {
		k, r, s := credentialScope(c.auth)
		if k != c.key || r != c.region || s != c.service {
			t.Errorf("credentialScope(%q) = %q %q %q, want %q %q %q", c.auth, k, r, s, c.key, c.region, c.service)
		}
	}
}

func TestProcNetIP(t *testing.T) {
	for h, want := range map[string]string{
		"0100007F":                         "127.0.0.1",
		"00000000":                         "0.0.0.0",
		"00000000000000000000000001000000": "::1",
		"0000000000000000FFFF00000100007F": "127.0.0.1",
	} {
		ip, err := procNetIP(h)
		if err != nil || ip.String() != want {
			t.Errorf("procNetIP(%s) = %v, %v; want %s", h, ip, err, want)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/a\040b/c\011d`); got != "/a b/c\td" {
		t.Errorf("got %q", got)
	}
	if got := unescapeMountinfo("/plain"); got != "/plain" {
		t.Errorf("got %q", got)
	}
}
