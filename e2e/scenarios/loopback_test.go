//go:build e2e

package scenarios

import (
	"os"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

// TestEverythingListensOnLoopbackOnly: no process of the suite (etcd, the
// control plane, moto, the driver, our daemon, the test's own doubles)
// listens on anything but 127.0.0.1.
func TestEverythingListensOnLoopbackOnly(t *testing.T) {
	localOnly(t, "the suite's own processes")
	pids := append(env.ws.Pids(), os.Getpid())
	ls, err := cluster.ListenersOf(pids...)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) < 5 {
		t.Errorf("found only %d listeners (%v); the check is not seeing the processes", len(ls), ls)
	}
	assertLoopbackOnly(t, pids...)
}

func assertLoopbackOnly(t *testing.T, pids ...int) {
	t.Helper()
	ls, err := cluster.ListenersOf(pids...)
	if err != nil {
		t.Errorf("listing listeners: %v", err)
		return
	}
	for _, l := range cluster.NonLoopback(ls) {
		t.Errorf("not loopback: %s", l)
	}
}
