package server_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// immutable sets or clears the immutable attribute of path (root only, on
// file systems with attributes), which makes renaming over it and linking
// it fail: the one way to make a write fail half-way for real.
func immutable(t *testing.T, path string, on bool) {
	t.Helper()
	flag := "-i"
	if on {
		flag = "+i"
	}
	if out, err := exec.Command("chattr", flag, path).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("chattr %s %s: %v: %s", flag, path, err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI runs as root on a file system with attributes)")
		}
		t.Skip(msg + "; needs root and a file system with attributes")
	}
}

// TestProviderWritesModeRollsBackAWriteThatFailsHalfWay: with
// --driver-writes-secrets=false, a write that fails after some files were
// already replaced puts them back: the pod never sees half a rotation.
func TestProviderWritesModeRollsBackAWriteThatFailsHalfWay(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			n := fmt.Sprintf("rb-%d", time.Now().UnixNano()%1e9)
			seed.secret("us-west-2", n+"-a", "a1")
			seed.secret("us-west-2", n+"-b", "b1")
			d := b.start(t, daemonOptions{driverWritesSecrets: false, kube: cluster(serviceAccount("team", "app", role))})
			params := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(`
- {objectName: %q, objectType: secretsmanager, objectAlias: a}
- {objectName: %q, objectType: secretsmanager, objectAlias: b}
`, n+"-a", n+"-b")}
			p, target := pod{ns: "team", name: "web", sa: "app"}, t.TempDir()
			for range 2 { // a mount and a republish: the next republish reads AWS again
				if _, err := d.mount(t, p, params, target); err != nil {
					t.Fatal(err)
				}
			}
			seed.secret("us-west-2", n+"-a", "a2")
			seed.secret("us-west-2", n+"-b", "b2")
			immutable(t, filepath.Join(target, "b"), true)
			t.Cleanup(func() { immutable(t, filepath.Join(target, "b"), false) })
			_, err := d.mount(t, p, params, target)
			if status.Code(err) != codes.Internal {
				t.Fatalf("err = %v, want Internal: file b cannot be replaced", err)
			}
			got := readMount(t, target)
			if got["a"].data != "a1" || got["b"].data != "b1" || len(got) != 2 {
				t.Errorf("after a write that failed half-way the pod sees %v, want a1 and b1 and nothing else", got)
			}
		})
	}
}
