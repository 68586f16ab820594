package testkit

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// CheckRefusal checks that err refuses an input the way users read it: of
// kind (InvalidArgument when kind is failure.Internal, the zero Kind),
// containing every string of want, and never secret ("" for none).
func CheckRefusal(t testing.TB, err error, kind failure.Kind, want []string, secret string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if kind == failure.Internal {
		kind = failure.InvalidArgument
	}
	if got := failure.KindOf(err); got != kind {
		t.Errorf("kind = %v, want %v (error: %v)", got, kind, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\n  does not contain %q", err, w)
		}
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("error %q reveals the secret value", err)
	}
}
