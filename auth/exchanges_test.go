package auth

import (
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

// exchangeCounter is the ExchangeObserver of these tests: exchanges by
// "exchange outcome".
type exchangeCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *exchangeCounter) ObserveCredentialRefresh(exchange, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[exchange+" "+outcome]++
}

func (c *exchangeCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

func TestEveryExchangeIsCountedByModeAndOutcome(t *testing.T) {
	t.Parallel()
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized", Fault: smithy.FaultClient}
	tests := []struct {
		name string
		run  func(t *testing.T, f *fixture)
		want map[string]int
	}{
		{"an IRSA exchange STS answers counts one ok, and the cached credentials that follow count none",
			func(t *testing.T, f *fixture) {
				f.mustResolve(t, testReq(t, "shop", "cart", "p1"))
				f.mustResolve(t, testReq(t, "shop", "cart", "p2"))
			}, map[string]int{"irsa ok": 1}},
		{"an IRSA exchange STS refuses counts its failure kind",
			func(t *testing.T, f *fixture) {
				f.sts.setErr(denied)
				_, _, _ = f.resolve(t, testReq(t, "shop", "cart", "p1"))
			}, map[string]int{"irsa PermissionDenied": 1}},
		{"a Pod Identity exchange the agent answers counts under pod-identity",
			func(t *testing.T, f *fixture) {
				r := testReq(t, "shop", "cart", "p1")
				r.Mode = ModePodIdentity
				f.mustResolve(t, r)
			}, map[string]int{"pod-identity ok": 1}},
		{"a refresh ahead of expiry is an exchange of its own",
			func(t *testing.T, f *fixture) {
				req := testReq(t, "shop", "cart", "p1")
				f.mustResolve(t, req)
				f.clock.Set(t0.Add(50 * time.Minute))
				f.mustResolve(t, req)
				eventually(t, "the background refresh", func() bool { return f.sts.count() == 2 })
			}, map[string]int{"irsa ok": 2}},
		{"a request refused before any exchange counts none",
			func(t *testing.T, f *fixture) {
				r := testReq(t, "shop", "cart", "p1")
				delete(r.Tokens, AudienceSTS)
				_, _, _ = f.resolve(t, r)
			}, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, serviceAccount("shop", "cart", roleCart))
			obs := &exchangeCounter{}
			f.creds.observer = obs
			tt.run(t, f)
			// A background refresh is counted when it ends.
			for deadline := time.Now().Add(5 * time.Second); !maps.Equal(obs.counts(), tt.want) && time.Now().Before(deadline); {
				time.Sleep(2 * time.Millisecond)
			}
			if got := obs.counts(); !maps.Equal(got, tt.want) {
				t.Errorf("exchanges = %v, want %v", got, tt.want)
			}
		})
	}
}
