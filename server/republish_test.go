package server_test

import (
	"fmt"
	"testing"
	"time"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TestARotatedSecretReachesEveryPodWithinTwoOfItsRepublishes drives the
// daemon with its default cache TTL (2 minutes) the way the driver's
// rotation does: every pod republishes its volume, round after round. A
// republish is never answered with a value read before that pod's previous
// Mount, so a rotated secret reaches every pod within two of its own
// republishes however long the TTL, while the pods of one identity still
// share one read per round.
func TestARotatedSecretReachesEveryPodWithinTwoOfItsRepublishes(t *testing.T) {
	for _, b := range backends(t) {
		if b.cacheTTL == 0 {
			continue // without a cache every Mount reads AWS: nothing to prove
		}
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			name := fmt.Sprintf("rot-%d", time.Now().UnixNano()%1e9)
			seed.secret("us-west-2", name, "v1")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			params := map[string]string{"region": "us-west-2",
				"objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager, objectAlias: s}\n", name)}
			type volume struct {
				p      pod
				target string
			}
			var vols []volume
			for i := range 5 {
				vols = append(vols, volume{pod{ns: "team", name: fmt.Sprintf("web-%d", i), sa: "app"}, t.TempDir()})
			}
			batches := func() int { return d.calls.count("Secrets Manager", "BatchGetSecretValue", "us-west-2") }
			round := func() (seen []string) {
				for _, v := range vols {
					resp, err := d.mount(t, v.p, params, v.target)
					if err != nil {
						t.Fatalf("%s: %v", v.p.name, err)
					}
					seen = append(seen, string(resp.GetFiles()[0].Contents))
				}
				return seen
			}

			round()
			if n := batches(); n != 1 {
				t.Fatalf("the first mounts of five pods of one identity made %d batch reads, want 1", n)
			}
			seed.secret("us-west-2", name, "v2")
			before := batches()
			second := round()
			third := round()
			for i, v := range vols {
				if third[i] != "v2" {
					t.Errorf("%s still sees %q at its second republish after the rotation", v.p.name, third[i])
				}
			}
			if second[1] != "v2" {
				t.Errorf("second round = %v: the first pod whose previous Mount came after the last read must read again", second)
			}
			if n := batches() - before; n != 2 {
				t.Errorf("two rounds of five republishes made %d batch reads, want one per round", n)
			}
		})
	}
}

// TestAFirstMountIsServedFromTheCacheWithinTheTTL: a new pod of an identity
// that read recently costs no AWS call; only republishes are held to their
// previous Mount.
func TestAFirstMountIsServedFromTheCacheWithinTheTTL(t *testing.T) {
	for _, b := range backends(t) {
		if b.cacheTTL == 0 {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			name := fmt.Sprintf("first-%d", time.Now().UnixNano()%1e9)
			seed.secret("us-west-2", name, "v1")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			params := map[string]string{"region": "us-west-2",
				"objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager}\n", name)}
			for i := range 4 {
				if _, err := d.mount(t, pod{ns: "team", name: fmt.Sprintf("p%d", i), sa: "app"}, params, t.TempDir()); err != nil {
					t.Fatal(err)
				}
			}
			if n := d.calls.count("Secrets Manager", "BatchGetSecretValue", "us-west-2"); n != 1 {
				t.Errorf("four first mounts made %d reads, want 1", n)
			}
		})
	}
}

// TestMovedLabelsReachThePodLikeRotations: a value read by label
// (AWSPREVIOUS, an SSM label) is not pinned: when the label moves, the pod
// sees the new value within two of its republishes, like a rotation.
func TestMovedLabelsReachThePodLikeRotations(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			name := fmt.Sprintf("label-%d", time.Now().UnixNano()%1e9)
			seed.secret("us-west-2", name, "one")
			seed.secret("us-west-2", name, "two")
			param := "/" + name
			v1 := seed.parameter("us-west-2", param, ssmtypes.ParameterTypeString, "p1")
			seed.label("us-west-2", param, v1, "stable")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			params := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(`
- {objectName: %q, objectType: secretsmanager, objectAlias: previous, objectVersionLabel: AWSPREVIOUS}
- {objectName: %q, objectType: ssmparameter, objectAlias: stable, objectVersionLabel: stable}
`, name, param)}
			p, target := pod{ns: "team", name: "web", sa: "app"}, t.TempDir()
			files := func() map[string]string {
				resp, err := d.mount(t, p, params, target)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]string{}
				for _, f := range resp.GetFiles() {
					out[f.Path] = string(f.Contents)
				}
				return out
			}
			if got := files(); got["previous"] != "one" || got["stable"] != "p1" {
				t.Fatalf("first mount = %v", got)
			}
			seed.secret("us-west-2", name, "three")
			v2 := seed.parameter("us-west-2", param, ssmtypes.ParameterTypeString, "p2")
			seed.label("us-west-2", param, v2, "stable")
			files()
			if got := files(); got["previous"] != "two" || got["stable"] != "p2" {
				t.Errorf("two republishes after the labels moved = %v, want previous=two stable=p2", got)
			}
		})
	}
}
