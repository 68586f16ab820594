package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCachedValuesStayWithTheirIdentityThroughAMount proves the value
// cache's isolation where it is wired: through Mounts, with the daemon's
// default cache. ServiceAccounts that share a role, in one namespace and in
// two, each pay their own read; a ServiceAccount whose role changes is
// never served what its old role read.
func TestCachedValuesStayWithTheirIdentityThroughAMount(t *testing.T) {
	f, url := startFake(t)
	b := backend{name: "fake", url: url, fake: f, cacheTTL: defaultCacheTTL, staleMax: defaultStaleMax}
	seed := seeder{t: t, url: url}
	seed.secret("us-west-2", "shared-secret", "v1")
	const denied = "arn:aws:iam::123456789012:role/denied"
	kube := cluster(
		serviceAccount("team", "app", role), serviceAccount("team", "worker", role),
		serviceAccount("other", "app", role), serviceAccount("moving", "app", role))
	d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: kube})
	f.DenySecret(denied, "shared-secret")
	params := map[string]string{"region": "us-west-2", "objects": "- {objectName: shared-secret, objectType: secretsmanager}\n"}
	reads := func() int { return d.calls.count("Secrets Manager", "BatchGetSecretValue", "us-west-2") }
	assumes := func() int { return d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2") }
	mount := func(ns, sa string) error {
		_, err := d.mount(t, pod{ns: ns, name: sa + "-pod", sa: sa}, params, t.TempDir())
		return err
	}
	if err := mount("team", "app"); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		ns, sa string
	}{
		{"another ServiceAccount of the same role in the same namespace reads for itself", "team", "worker"},
		{"the same ServiceAccount name and role in another namespace reads for itself", "other", "app"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, a := reads(), assumes()
			if err := mount(tc.ns, tc.sa); err != nil {
				t.Fatal(err)
			}
			if reads()-r != 1 || assumes()-a != 1 {
				t.Errorf("%s/%s made %d reads and %d STS calls, want its own of each (a cache shared across identities)",
					tc.ns, tc.sa, reads()-r, assumes()-a)
			}
		})
	}
	t.Run("a ServiceAccount moved to a denied role is refused what its old role read", func(t *testing.T) {
		if err := mount("moving", "app"); err != nil {
			t.Fatal(err)
		}
		if err := kube.UpdateServiceAccount("moving", "app", map[string]string{"eks.amazonaws.com/role-arn": denied}); err != nil {
			t.Fatal(err)
		}
		var last error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if last = mount("moving", "app"); status.Code(last) == codes.PermissionDenied {
				return
			}
		}
		t.Errorf("after the role changed the Mount got %v, want PermissionDenied from AWS for the new role", last)
	})
	t.Run("the first identity is still served from its own cache", func(t *testing.T) {
		r := reads()
		if err := mount("team", "app"); err != nil {
			t.Fatal(err)
		}
		if n := reads() - r; n != 0 {
			t.Errorf("a republish within the TTL made %d reads", n)
		}
	})
}
