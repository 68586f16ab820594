package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// TestAPIServerGoingAwayAfterTheInformersStarted: Mounts of ServiceAccounts
// the informer already holds keep resolving without the API server; one it
// does not hold fails, saying the Kubernetes API could not be read.
func TestAPIServerGoingAwayAfterTheInformersStarted(t *testing.T) {
	t.Parallel()
	s, cs := startFakekube(t, [3]string{"shop", "cart", roleCart})
	ctx, _ := logged(t)
	l := mustInformerLookup(t, ctx, cs, InformerOptions{NodeName: "node-1"})
	f := newFixture(t)
	creds := NewCredentials(l, NewIRSA(f.sts.forRegion, IRSAOptions{}), nil, f.clock.Now)
	regions := NewRegions(l, "", "node-1")
	s.Close()

	t.Run("a ServiceAccount the informer holds still resolves", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			region, err := regions.Region(ctx, "", "shop", "cart-1")
			if err != nil || region != "us-west-2" {
				t.Fatalf("Region = %q, %v", region, err)
			}
			req := request(t, "shop", "cart", fmt.Sprintf("cart-%d", i))
			req.Region = region
			if id, _, err := creds.Resolve(ctx, req); err != nil || id.RoleARN != roleCart {
				t.Fatalf("Resolve = %+v, %v", id, err)
			}
		}
		if n := f.sts.count(); n != 1 {
			t.Errorf("STS calls = %d, want 1", n)
		}
	})
	t.Run("a ServiceAccount the informer does not hold fails saying the Kubernetes API is unavailable", func(t *testing.T) {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		began := time.Now()
		req := request(t, "shop", "ghost", "ghost-1")
		_, _, err := creds.Resolve(mctx, req)
		wantKind(t, err, failure.Unavailable, "reading ServiceAccount shop/ghost from the Kubernetes API", "connection refused")
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("took %v", took)
		}
		t.Logf("after %v: %v", time.Since(began).Round(time.Millisecond), err)
	})
}

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
			f.creds.podIdentity = NewPodIdentity(PodIdentityOptions{IPv4Endpoint: a.URL(), HTTPTimeout: tt.timeout})
			req := request(t, "shop", "cart", "p1")
			req.Mode, req.PreferredAddressType = ModePodIdentity, "ipv4"
			time.AfterFunc(tt.down, func() { a.Up(t) })

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			began := time.Now()
			_, p, err := f.creds.Resolve(ctx, req)
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

// TestAHungAPIServerIsNeverReportedAsAWS: a Kubernetes read that runs out
// of time says the Kubernetes API did not answer (failure.Describe would
// read the deadline as "timed out waiting for AWS").
func TestAHungAPIServerIsNeverReportedAsAWS(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release: // the detached shared reads outlive their callers
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) }) // runs first
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: hung.URL})
	if err != nil {
		t.Fatal(err)
	}
	l := &informerLookup{direct: directLookup{client: cs}, sas: newGetCache(0, time.Now), nodes: newGetCache(0, time.Now)}
	tests := []struct {
		name      string
		read      func(ctx context.Context) error
		fragments []string
	}{
		{"a direct read of a ServiceAccount", func(ctx context.Context) error {
			_, err := l.direct.RoleARN(ctx, "shop", "ghost")
			return err
		}, []string{"reading ServiceAccount shop/ghost from the Kubernetes API: the Kubernetes API server did not answer in time"}},
		{"a shared read of a ServiceAccount", func(ctx context.Context) error {
			_, err := l.RoleARN(ctx, "shop", "ghost")
			return err
		}, []string{"waiting for the Kubernetes API to answer for shop/ghost: the Kubernetes API server did not answer in time"}},
		{"the node-region lookup", func(ctx context.Context) error {
			_, err := NewRegions(l, "", "node-1").Region(ctx, "", "shop", "p1")
			return err
		}, []string{"waiting for the Kubernetes API to answer for Node node-1: the Kubernetes API server did not answer in time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" that runs out of time names the Kubernetes API, not AWS", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := tt.read(ctx)
			wantKind(t, err, failure.Timeout, tt.fragments...)
			if err != nil && strings.Contains(err.Error(), "AWS") {
				t.Errorf("the error blames AWS: %v", err)
			}
		})
	}
}
