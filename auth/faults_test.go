package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// flakyAgent is an agent at a fixed address that is down (nothing listens)
// until Up, then answers each request after slowFor has passed since Up
// was called, as an agent that restarts and then warms its cache does.
type flakyAgent struct {
	addr    string
	slowFor time.Duration

	mu    sync.Mutex
	up    time.Time
	srv   *httptest.Server
	calls []time.Duration // when each request came, since Up
}

func newFlakyAgent(t *testing.T, slowFor time.Duration) *flakyAgent {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &flakyAgent{addr: l.Addr().String(), slowFor: slowFor}
	l.Close()
	t.Cleanup(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.srv != nil {
			a.srv.Close()
		}
	})
	return a
}

func (a *flakyAgent) URL() string { return "http://" + a.addr + "/v1/credentials" }

// Up starts listening at the agent's address.
func (a *flakyAgent) Up(t *testing.T) {
	l, err := net.Listen("tcp", a.addr)
	if err != nil {
		t.Errorf("the agent's address was taken meanwhile: %v", err)
		return
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	srv.Listener.Close()
	srv.Listener = l
	a.mu.Lock()
	a.up, a.srv = time.Now(), srv
	a.mu.Unlock()
	srv.Start()
}

func (a *flakyAgent) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	since := time.Since(a.up)
	a.calls = append(a.calls, since)
	n := len(a.calls)
	a.mu.Unlock()
	if wait := a.slowFor - since; wait > 0 {
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
	}
	json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId": fmt.Sprintf("ASIAPOD%d", n), "SecretAccessKey": "pod-secret", "Token": "pod-session",
		"Expiration": time.Now().Add(6 * time.Hour).Format(time.RFC3339),
	})
}

func TestAgentDownThenSlowThenUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		down, slowFor time.Duration
		timeout       time.Duration
	}{
		{"an agent down for half a second and then slow for a second serves the Mount (default timeout)",
			500 * time.Millisecond, 1200 * time.Millisecond, 0},
		{"an agent down and then slow past several short attempt timeouts serves the Mount",
			300 * time.Millisecond, 1500 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newFlakyAgent(t, tt.slowFor)
			f := newFixture(t)
			f.creds.providers[ModePodIdentity] = NewPodIdentity(PodIdentityOptions{IPv4Endpoint: a.URL(), HTTPTimeout: tt.timeout})
			req := testReq(t, "shop", "cart", "p1")
			req.Mode, req.PreferredAddressType = ModePodIdentity, "ipv4"
			time.AfterFunc(tt.down, func() { a.Up(t) })

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			began := time.Now()
			_, p, err := f.creds.Resolve(ctx, req.mount())
			if err != nil {
				t.Fatalf("Resolve after %v: %v", time.Since(began), err)
			}
			c, _ := p.Retrieve(ctx)
			took := time.Since(began)
			a.mu.Lock()
			calls := append([]time.Duration(nil), a.calls...)
			a.mu.Unlock()
			if want := fmt.Sprintf("ASIAPOD%d", len(calls)); c.AccessKeyID != want {
				t.Errorf("credentials %s, want %s from the last call", c.AccessKeyID, want)
			}
			if took < tt.down+tt.slowFor || took > tt.down+tt.slowFor+3*time.Second {
				t.Errorf("the Mount took %v; want a little over the %v the agent was down and slow", took, tt.down+tt.slowFor)
			}
			t.Logf("served after %v; the agent's calls came at %v after it came up", took.Round(time.Millisecond), calls)
		})
	}
}
