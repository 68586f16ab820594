package auth

import (
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/request"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// TestPodScopeChecksTheTokensPodClaim: with the per-pod scope a token must
// be bound to the very pod the request names; with the identity scope the
// pod claim is not read.
func TestPodScopeChecksTheTokensPodClaim(t *testing.T) {
	t.Parallel()
	type tokenFor func(t *testing.T, audience string) request.Token
	boundTo := func(pod, uid string) tokenFor {
		return func(t *testing.T, audience string) request.Token {
			return podToken(t, "shop", "cart", audience, pod, uid)
		}
	}
	unbound := func(t *testing.T, audience string) request.Token { return saToken(t, "shop", "cart", audience) }
	tests := []struct {
		name      string
		scope     ScopeMode
		token     tokenFor
		fragments []string // empty: accepted
	}{
		{"with the pod scope a token bound to the request's pod is accepted", ScopePod, boundTo("cart-1", "uid-cart-1"), nil},
		{"with the pod scope a token bound to another pod name is refused", ScopePod, boundTo("cart-2", "uid-cart-1"),
			[]string{`bound to pod "cart-2" (uid "uid-cart-1")`, `the request is for pod shop/"cart-1" (uid "uid-cart-1")`}},
		{"with the pod scope a token bound to another pod UID is refused", ScopePod, boundTo("cart-1", "uid-other"),
			[]string{`(uid "uid-other")`, "refusing to use it"}},
		{"with the pod scope a token without a pod claim is refused", ScopePod, unbound,
			[]string{"is not bound to a pod", "per-pod cache scope (--cache-scope=pod) needs pod-bound tokens", "TokenRequest for CSI drivers"}},
		{"with the identity scope a token without a pod claim is accepted", ScopeIdentity, unbound, nil},
		{"with the identity scope a token bound to another pod is accepted", ScopeIdentity, boundTo("cart-2", "uid-cart-2"), nil},
	}
	for _, tt := range tests {
		for _, podIdentity := range []bool{false, true} {
			mode := " (IRSA)"
			if podIdentity {
				mode = " (Pod Identity)"
			}
			t.Run(tt.name+mode, func(t *testing.T) {
				t.Parallel()
				f := scopedFixture(t, tt.scope, false, serviceAccount("shop", "cart", roleCart))
				req := testReq(t, "shop", "cart", "cart-1")
				req.Mode = modeOf(podIdentity)
				// Credentials for this very pod are cached: the check must hold even then.
				f.mustResolve(t, req)
				calls := f.sts.count() + int(f.agent.calls.Load())

				audience := AudienceSTS
				if podIdentity {
					audience = AudiencePodIdentity
				}
				req.Tokens = map[string]request.Token{audience: tt.token(t, audience)}
				_, _, err := f.resolve(t, req)
				if tt.fragments == nil {
					if err != nil {
						t.Fatalf("Resolve: %v", err)
					}
					return
				}
				testkit.WantKind(t, err, failure.Unauthenticated, tt.fragments...)
				if n := f.sts.count() + int(f.agent.calls.Load()); n != calls {
					t.Errorf("a refused request reached STS or the agent")
				}
			})
		}
	}
}
