package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/request"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestParseScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ScopeMode
		err  bool
	}{
		{"", ScopeIdentity, false},
		{"identity", ScopeIdentity, false},
		{"pod", ScopePod, false},
		{"Pod", "", true},
		{"namespace", "", true},
	}
	for _, tt := range tests {
		t.Run("the scope "+`"`+tt.in+`"`+" is read or refused", func(t *testing.T) {
			t.Parallel()
			got, err := ParseScope(tt.in)
			if got != tt.want || (err != nil) != tt.err {
				t.Errorf("ParseScope(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && !strings.Contains(err.Error(), `"identity" or "pod"`) {
				t.Errorf("the error %q does not list the choices", err)
			}
		})
	}
	if _, err := NewCredentials(CredentialsOptions{Scope: "cluster"}); err == nil {
		t.Error("NewCredentialsWithOptions accepted an unknown scope")
	}
}

// scopedFixture is a fixture whose resolver has the given scope and reads
// ServiceAccounts through package kube's informers, against fakekube, when
// informer is set (f.kube is then that API server).
func scopedFixture(t *testing.T, scope ScopeMode, informer bool, sas ...sa) *fixture {
	t.Helper()
	f := newFixture(t, sas...)
	var roles Roles = f.roles
	if informer {
		f.kube, roles = startKube(t, t.Context(), "", sas...)
		f.kube.ResetCalls()
	}
	pi := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: f.agent.URL, IPv6Endpoint: deadEndpoint(t)})
	c, err := NewCredentials(CredentialsOptions{Roles: roles, Providers: providers(NewIRSA(f.sts.forRegion, IRSAOptions{}), pi), Scope: scope, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.creds = c
	return f
}

func TestPodScopeGivesEachPodItsOwnCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		scope       ScopeMode
		podIdentity bool
		wantCalls   int
	}{
		{"with the identity scope two pods of one ServiceAccount share one STS call", ScopeIdentity, false, 1},
		{"with the pod scope two pods of one ServiceAccount make one STS call each", ScopePod, false, 2},
		{"with the identity scope two Pod Identity pods share one agent call", ScopeIdentity, true, 1},
		{"with the pod scope two Pod Identity pods make one agent call each", ScopePod, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := scopedFixture(t, tt.scope, false, serviceAccount("shop", "cart", roleCart))
			req := func(pod string) testRequest {
				r := testReq(t, "shop", "cart", pod)
				r.Mode = modeOf(tt.podIdentity)
				return r
			}
			calls := func() int {
				if tt.podIdentity {
					return int(f.agent.calls.Load())
				}
				return f.sts.count()
			}
			idA, credsA := f.mustResolve(t, req("cart-a"))
			var sessionA string
			if !tt.podIdentity {
				sessionA = f.sts.last().sessionName
			}
			idB, credsB := f.mustResolve(t, req("cart-b"))
			perPod := tt.scope == ScopePod
			if (idA.Key() != idB.Key()) != perPod || idA.PerPod != perPod {
				t.Errorf("keys %q and %q (PerPod %v)", idA.Key(), idB.Key(), idA.PerPod)
			}
			if (credsA.AccessKeyID != credsB.AccessKeyID) != perPod {
				t.Errorf("credentials %s and %s", credsA.AccessKeyID, credsB.AccessKeyID)
			}
			if !tt.podIdentity && perPod {
				if sessionB := f.sts.last().sessionName; sessionA == sessionB || !strings.HasSuffix(sessionB, "cart-b") {
					t.Errorf("role sessions %q and %q: each pod's should name it", sessionA, sessionB)
				}
			}
			// Each pod is served from its own entry afterwards.
			for i := 0; i < 10; i++ {
				if _, c := f.mustResolve(t, req("cart-a")); c.AccessKeyID != credsA.AccessKeyID {
					t.Fatalf("pod a got %s, want %s", c.AccessKeyID, credsA.AccessKeyID)
				}
				if _, c := f.mustResolve(t, req("cart-b")); c.AccessKeyID != credsB.AccessKeyID {
					t.Fatalf("pod b got %s, want %s", c.AccessKeyID, credsB.AccessKeyID)
				}
			}
			if n := calls(); n != tt.wantCalls {
				t.Errorf("STS or agent calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestPodScopeRefusesARequestWithoutAUsablePodUID(t *testing.T) {
	t.Parallel()
	for _, uid := range []string{"", "a|b"} {
		t.Run("the pod UID "+`"`+uid+`"`+" is refused", func(t *testing.T) {
			t.Parallel()
			f := scopedFixture(t, ScopePod, false, serviceAccount("shop", "cart", roleCart))
			r := testReq(t, "shop", "cart", "cart-a")
			r.PodUID = uid
			_, _, err := f.resolve(t, r)
			testkit.WantKind(t, err, failure.InvalidArgument, request.AttrPodUID, "--cache-scope=pod")
			if f.sts.count() != 0 {
				t.Error("a refused request reached STS")
			}
		})
	}
}

// TestIsolationInEveryScopeAndLookup: whatever the scope and however
// ServiceAccounts are read, two ServiceAccounts with one role never share
// credentials, and a request whose token does not prove its identity is
// refused even when credentials for that identity (and pod) are cached.
func TestIsolationInEveryScopeAndLookup(t *testing.T) {
	t.Parallel()
	for _, scope := range []ScopeMode{ScopeIdentity, ScopePod} {
		for _, informer := range []bool{false, true} {
			lookup := "direct reads"
			if informer {
				lookup = "informers"
			}
			t.Run("with the "+string(scope)+" scope and "+lookup, func(t *testing.T) {
				t.Parallel()
				isolation(t, scope, informer)
			})
		}
	}
}

func isolation(t *testing.T, scope ScopeMode, informer bool) {
	t.Run("two ServiceAccounts annotated with one role never share credentials", func(t *testing.T) {
		t.Parallel()
		pairs := []struct {
			name string
			a, b [2]string
		}{
			{"in one namespace", [2]string{"shop", "cart"}, [2]string{"shop", "checkout"}},
			{"of one name in two namespaces", [2]string{"shop", "cart"}, [2]string{"blog", "cart"}},
		}
		for _, p := range pairs {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				f := scopedFixture(t, scope, informer, serviceAccount(p.a[0], p.a[1], roleCart), serviceAccount(p.b[0], p.b[1], roleCart))
				idA, credsA := f.mustResolve(t, testReq(t, p.a[0], p.a[1], "pod"))
				idB, credsB := f.mustResolve(t, testReq(t, p.b[0], p.b[1], "pod"))
				if idA.Key() == idB.Key() || credsA.AccessKeyID == credsB.AccessKeyID {
					t.Errorf("keys %q, %q; credentials %s, %s", idA.Key(), idB.Key(), credsA.AccessKeyID, credsB.AccessKeyID)
				}
				if f.sts.count() != 2 {
					t.Errorf("STS calls = %d, want one per ServiceAccount", f.sts.count())
				}
			})
		}
	})

	t.Run("a token that does not prove the identity is refused even with credentials cached", func(t *testing.T) {
		t.Parallel()
		tamper := []struct {
			name   string
			tokens func() map[string]request.Token
			frag   string
		}{
			{"an expired token", func() map[string]request.Token {
				tok := saToken(t, "shop", "cart", AudienceSTS)
				tok.Expiration = t0.Add(-time.Second)
				return map[string]request.Token{AudienceSTS: tok}
			}, "expired"},
			{"a token whose exp claim has passed", func() map[string]request.Token {
				return map[string]request.Token{AudienceSTS: {Token: makeJWT(t, map[string]any{
					"sub": "system:serviceaccount:shop:cart", "aud": []string{AudienceSTS}, "exp": t0.Add(-time.Minute).Unix(),
				})}}
			}, "expired"},
			{"a token of another ServiceAccount of the namespace", func() map[string]request.Token {
				return map[string]request.Token{AudienceSTS: saToken(t, "shop", "admin", AudienceSTS)}
			}, "system:serviceaccount:shop:admin"},
			{"a token of the same ServiceAccount name in another namespace", func() map[string]request.Token {
				return map[string]request.Token{AudienceSTS: saToken(t, "blog", "cart", AudienceSTS)}
			}, "system:serviceaccount:blog:cart"},
			{"a token for another audience", func() map[string]request.Token {
				return map[string]request.Token{AudienceSTS: saToken(t, "shop", "cart", AudiencePodIdentity)}
			}, "audiences"},
		}
		for _, tt := range tamper {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				f := scopedFixture(t, scope, informer, serviceAccount("shop", "cart", roleCart), serviceAccount("blog", "cart", roleCart))
				f.mustResolve(t, testReq(t, "shop", "cart", "cart-1"))
				before := f.sts.count()
				r := testReq(t, "shop", "cart", "cart-1") // the same pod: its entry is cached in either scope
				r.Tokens = tt.tokens()
				_, _, err := f.resolve(t, r)
				testkit.WantKind(t, err, failure.Unauthenticated, tt.frag)
				if f.sts.count() != before {
					t.Error("a refused request reached STS")
				}
				if informer && f.kube.Calls()["get serviceaccounts"] != 0 {
					t.Errorf("ServiceAccount GETs with informers: %v, want none", f.kube.Calls())
				}
			})
		}
	})
}
