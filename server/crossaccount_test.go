package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// target is the cross-account role classes assume: in another account.
const target = "arn:aws:iam::222222222222:role/shared-secrets"

// TestCrossAccountRolesAreAssumedAfterThePodsOwnIdentity: a class with
// assumeRoleArn reads with credentials assumed into that role with the
// pod's own (IRSA or Pod Identity): in moto the secret lives in the other
// account, and only those credentials reach it. Two pod identities naming
// the same target role never share the assumed credentials or the values.
func TestCrossAccountRolesAreAssumedAfterThePodsOwnIdentity(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			name := fmt.Sprintf("xacct-%d", time.Now().UnixNano()%1e9)
			seeder{t: t, url: b.url}.asRole(target).secret("us-west-2", name, "from-the-other-account")
			agent, _ := podIdentityAgent(t)
			d := b.start(t, daemonOptions{driverWritesSecrets: true, podIdentityURL: agent.URL,
				kube: cluster(serviceAccount("team", "app", role), serviceAccount("other", "app", role), serviceAccount("team", "pi", ""))})
			objects := fmt.Sprintf("- {objectName: %q, objectType: secretsmanager, objectAlias: s}\n", name)
			irsa := map[string]string{"region": "us-west-2", "assumeRoleArn": target, "objects": objects}
			pi := map[string]string{"region": "us-west-2", "assumeRoleArn": target, "usePodIdentity": "true", "objects": objects}
			assumes := func() int { return d.calls.count("STS", "AssumeRole", "us-west-2") }

			for _, tc := range []struct {
				name   string
				p      pod
				params map[string]string
			}{
				{"chained on IRSA", pod{ns: "team", name: "web", sa: "app"}, irsa},
				{"chained on Pod Identity", pod{ns: "team", name: "pi", sa: "pi"}, pi},
				{"another identity naming the same role assumes it for itself", pod{ns: "other", name: "web", sa: "app"}, irsa},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := assumes()
					resp, err := d.mount(t, tc.p, tc.params, t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					if got := string(resp.GetFiles()[0].Contents); got != "from-the-other-account" {
						t.Errorf("file = %q", got)
					}
					if n := assumes() - before; n != 1 {
						t.Errorf("sts:AssumeRole calls = %d, want one of its own", n)
					}
				})
			}
			t.Run("each hop is counted as an exchange of its own", func(t *testing.T) {
				hops := d.metric(t, "csi_provider_aws_credential_refreshes_total", map[string]string{"mode": "assume-role", "outcome": "ok"})
				if hops != 3 {
					t.Errorf("credential_refreshes_total{mode=assume-role,outcome=ok} = %v, want 3", hops)
				}
			})
			t.Run("a republish of the first identity uses its cached chain", func(t *testing.T) {
				before, reads := assumes(), d.calls.count("Secrets Manager", "BatchGetSecretValue", "us-west-2")
				if _, err := d.mount(t, pod{ns: "team", name: "web2", sa: "app"}, irsa, t.TempDir()); err != nil {
					t.Fatal(err)
				}
				if assumes() != before || (b.cacheTTL > 0 && d.calls.count("Secrets Manager", "BatchGetSecretValue", "us-west-2") != reads) {
					t.Errorf("a second pod of the first identity made %d AssumeRole calls and %d reads",
						assumes()-before, d.calls.count("Secrets Manager", "BatchGetSecretValue", "us-west-2")-reads)
				}
			})
		})
	}
}

// TestCrossAccountErrorsSayWhichHopFailed: a refusal of the pod's own role
// and a refusal of the cross-account role read differently, each naming
// its role.
func TestCrossAccountErrorsSayWhichHopFailed(t *testing.T) {
	f, url := startFake(t)
	b := backend{name: "fake", url: url, fake: f}
	f.PutSecretString("us-west-2", "s", "v")
	f.TrustRole(target, "arn:aws:iam::123456789012:role/someone-else", "")
	f.Trust(role, "system:serviceaccount:team:app")
	d := b.start(t, daemonOptions{driverWritesSecrets: true,
		kube: cluster(serviceAccount("team", "app", role), serviceAccount("team", "stranger", role))})
	params := map[string]string{"region": "us-west-2", "assumeRoleArn": target, "objects": "- {objectName: s, objectType: secretsmanager}\n"}

	_, err := d.mount(t, pod{ns: "team", name: "web", sa: "app"}, params, t.TempDir())
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "cross-account hop failed") ||
		!strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), role) {
		t.Errorf("a refused hop: %v, want PermissionDenied naming the hop and both roles", err)
	}
	_, err = d.mount(t, pod{ns: "team", name: "web", sa: "stranger"}, params, t.TempDir())
	if status.Code(err) != codes.PermissionDenied || strings.Contains(err.Error(), "cross-account") || !strings.Contains(err.Error(), "assuming role "+role) {
		t.Errorf("a refused first hop: %v, want PermissionDenied about the pod's own role", err)
	}
	if strings.Contains(err.Error(), "external") {
		t.Errorf("the message mentions the external ID: %v", err)
	}
}

// TestTokenAudienceChoosesTheTokenIRSAExchanges: for clusters whose OIDC
// provider is registered with another audience.
func TestTokenAudienceChoosesTheTokenIRSAExchanges(t *testing.T) {
	f, url := startFake(t)
	b := backend{name: "fake", url: url, fake: f}
	f.PutSecretString("us-west-2", "s", "v")
	f.SetOIDCAudiences("https://oidc.example/custom")
	d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
	objects := "- {objectName: s, objectType: secretsmanager}\n"
	custom := map[string]string{"region": "us-west-2", "tokenAudience": "https://oidc.example/custom", "objects": objects}
	p := pod{ns: "team", name: "web", sa: "app", audiences: []string{"sts.amazonaws.com", "https://oidc.example/custom"}}

	if _, err := d.mount(t, p, custom, t.TempDir()); err != nil {
		t.Errorf("with tokenAudience and a token for it: %v", err)
	}
	p.audiences = []string{"sts.amazonaws.com"}
	_, err := d.mount(t, p, custom, t.TempDir())
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "https://oidc.example/custom") {
		t.Errorf("without a token for it: %v, want FailedPrecondition naming the audience to add", err)
	}
	_, err = d.mount(t, p, map[string]string{"region": "us-west-2", "usePodIdentity": "true", "tokenAudience": "x", "objects": objects}, t.TempDir())
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "tokenAudience") {
		t.Errorf("tokenAudience with Pod Identity: %v, want InvalidArgument naming it", err)
	}
}

// TestTokenRequestFallbackServesDriversWithoutTokenRequests: with
// --token-request-fallback a driver that sends no tokens still gets the
// pod's secrets, with a token the daemon requested bound to the pod, one
// per pod and audience for several republishes; without the flag the
// message says which audience to add.
func TestTokenRequestFallbackServesDriversWithoutTokenRequests(t *testing.T) {
	f, url := startFake(t)
	b := backend{name: "fake", url: url, fake: f, cacheTTL: defaultCacheTTL}
	f.PutSecretString("us-west-2", "s", "v")
	k := cluster(serviceAccount("team", "app", role))
	k.AddPod("team", "web", "node-1", "app")
	params := map[string]string{"region": "us-west-2", "objects": "- {objectName: s, objectType: secretsmanager}\n"}

	on := b.start(t, daemonOptions{driverWritesSecrets: true, kube: k, tokenFallback: true})
	p := pod{ns: "team", name: "web", sa: "app", uid: k.PodUID("team", "web"), audiences: []string{}}
	for range 3 {
		if _, err := on.mount(t, p, params, "/pods/web/vol"); err != nil {
			t.Fatalf("with the fallback: %v", err)
		}
	}
	if n := k.TokenRequests(); n != 1 {
		t.Errorf("TokenRequests = %d for three Mounts of one pod, want 1", n)
	}
	p.uid = "not-the-pods-uid"
	if _, err := on.mount(t, p, params, "/pods/other/vol"); status.Code(err) == codes.OK {
		t.Error("a token was requested for a pod UID the API server does not know")
	}

	off := b.start(t, daemonOptions{driverWritesSecrets: true, kube: k})
	_, err := off.mount(t, pod{ns: "team", name: "web", sa: "app", audiences: []string{}}, params, t.TempDir())
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "tokenRequests") || !strings.Contains(err.Error(), "--token-request-fallback") {
		t.Errorf("without the fallback: %v", err)
	}
}
