package auth

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// modeOf is the mode a class with usePodIdentity set to podIdentity has.
func modeOf(podIdentity bool) Mode {
	if podIdentity {
		return ModePodIdentity
	}
	return ModeIRSA
}

func TestTheModesTableChoosesAsUsePodIdentitySays(t *testing.T) {
	t.Parallel()
	modes := Modes()
	if modes[0].Name() != ModeIRSA {
		t.Fatalf("the default mode is %q, want IRSA", modes[0].Name())
	}
	for value, want := range map[string]Mode{
		"": ModeIRSA, "true": ModePodIdentity, "1": ModePodIdentity, "T": ModePodIdentity, "false": ModeIRSA, "0": ModeIRSA,
	} {
		var chosen []Mode
		for _, m := range modes {
			ok, err := m.Chosen(func(p string) string {
				if p == "usePodIdentity" {
					return value
				}
				return ""
			})
			if err != nil {
				t.Fatalf("usePodIdentity %q: %v", value, err)
			}
			if ok {
				chosen = append(chosen, m.Name())
			}
		}
		got := ModeIRSA
		if len(chosen) == 1 {
			got = chosen[0]
		}
		if len(chosen) > 1 || got != want {
			t.Errorf("usePodIdentity %q chooses %v, want %s", value, chosen, want)
		}
	}
	_, err := podIdentityMode.Chosen(func(string) string { return "maybe" })
	if err == nil || !strings.Contains(err.Error(), `usePodIdentity "maybe" is not a boolean`) {
		t.Errorf("usePodIdentity maybe: %v", err)
	}
}

func TestAModeTheDaemonDoesNotHaveIsAnInternalError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	req := testReq(t, "shop", "cart", "p1")
	req.Mode = class.AuthMode("vault")
	if _, _, err := f.creds.Resolve(t.Context(), req.mount()); failure.KindOf(err) != failure.Internal || err == nil {
		t.Errorf("Resolve with mode vault = %v, want an Internal error", err)
	}
}
