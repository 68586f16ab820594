package testkit

import (
	"path"
	"runtime"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// WantKind fails t unless err is a failure of kind whose message contains
// every fragment.
func WantKind(t testing.TB, err error, kind failure.Kind, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if got := failure.KindOf(err); got != kind {
		t.Errorf("kind = %v, want %v (error: %v)", got, kind, err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err.Error(), f)
		}
	}
}

// Allocated returns the bytes f allocated (the process's TotalAlloc delta:
// run it where nothing else allocates much meanwhile).
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// MaxAllocPerFuzzInput bounds what one fuzz input may allocate: far above
// what any of the daemon's limits allows (docs/limits.md), far below what
// would threaten its 256 MiB.
const MaxAllocPerFuzzInput = 64 << 20

// BoundAllocations runs f and fails the input if it allocated more than
// MaxAllocPerFuzzInput.
func BoundAllocations(t testing.TB, f func()) {
	t.Helper()
	if n := Allocated(f); n > MaxAllocPerFuzzInput {
		t.Fatalf("one input allocated %d bytes, more than %d", n, MaxAllocPerFuzzInput)
	}
}

// CheckAcceptedPath is the fuzz targets' oracle for a file path, written
// independently of the code under test: whatever a class may name as a file
// must be relative, clean and free of "..", or the driver (or the daemon's
// writer) would write outside the mount.
func CheckAcceptedPath(t testing.TB, p string) {
	t.Helper()
	if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p {
		t.Fatalf("accepted file path %q is not clean and relative", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			t.Fatalf("accepted file path %q has a .. segment", p)
		}
	}
	if strings.HasPrefix(p, "..") {
		t.Fatalf("accepted file path %q starts with ..", p)
	}
}
