package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// agentStep is how a scripted agent answers one request: after delay, with
// status and body (status 0: credentials).
type agentStep struct {
	status int
	body   string
	delay  time.Duration
}

// scriptedAgent answers its n-th request with steps[n], and every request
// after the last step with the last step. It records when each came.
type scriptedAgent struct {
	*httptest.Server
	steps []agentStep

	mu    sync.Mutex
	times []time.Time
}

func newScriptedAgent(t *testing.T, steps ...agentStep) *scriptedAgent {
	a := &scriptedAgent{steps: steps}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *scriptedAgent) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	n := len(a.times)
	step := a.steps[min(n, len(a.steps))-1]
	a.mu.Unlock()
	if step.delay > 0 {
		select {
		case <-time.After(step.delay):
		case <-r.Context().Done():
			return
		}
	}
	if step.status != 0 {
		w.WriteHeader(step.status)
		fmt.Fprint(w, step.body)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId": fmt.Sprintf("ASIAPOD%d", n), "SecretAccessKey": "pod-secret", "Token": "pod-session",
		"AccountId": "123456789012", "Expiration": time.Now().Add(6 * time.Hour).Format(time.RFC3339),
	})
}

func (a *scriptedAgent) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.times)
}

func TestPodIdentityRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		steps     []agentStep
		deadline  time.Duration
		wantCalls int
		wantKind  failure.Kind // when fragments are set
		fragments []string
		maxTook   time.Duration
	}{
		{name: "an agent answering 500 once is asked again and its credentials are used",
			steps: []agentStep{{status: 500, body: "EKS Auth is down"}, {}}, deadline: 5 * time.Second, wantCalls: 2, maxTook: 2 * time.Second},
		{name: "an agent answering 429 once is asked again and its credentials are used",
			steps: []agentStep{{status: 429, body: "slow down"}, {}}, deadline: 5 * time.Second, wantCalls: 2, maxTook: 2 * time.Second},
		{name: "an agent that takes a little over a second works with the default options",
			steps: []agentStep{{delay: time.Second + 50*time.Millisecond}}, deadline: 30 * time.Second, wantCalls: 2, maxTook: 4 * time.Second},
		{name: "a 403 is the agent's answer and is not retried",
			steps: []agentStep{{status: 403, body: "no association"}, {}}, deadline: 5 * time.Second, wantCalls: 1,
			wantKind: failure.PermissionDenied, fragments: []string{"HTTP 403: no association", "needs an EKS Pod Identity association"}, maxTook: time.Second},
		{name: "a 404 is the agent's answer and is not retried",
			steps: []agentStep{{status: 404}, {}}, deadline: 5 * time.Second, wantCalls: 1,
			wantKind: failure.FailedPrecondition, fragments: []string{"HTTP 404"}, maxTook: time.Second},
		{name: "a 500 then a 403 reports the 403 and how many attempts it took",
			steps: []agentStep{{status: 500}, {status: 403, body: "no association"}, {}}, deadline: 5 * time.Second, wantCalls: 2,
			wantKind: failure.PermissionDenied, fragments: []string{"shop/cart after 2 attempts", "HTTP 403: no association"}, maxTook: 2 * time.Second},
		{name: "an agent that keeps answering 500 is reported with the attempts made and its last answer",
			steps: []agentStep{{status: 500, body: "EKS Auth is down"}}, deadline: 600 * time.Millisecond,
			wantKind: failure.Unavailable, fragments: []string{"after", "attempts: HTTP 500: EKS Auth is down"}, maxTook: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newScriptedAgent(t, tt.steps...)
			p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: a.URL, IPv6Endpoint: deadEndpoint(t)})
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			began := time.Now()
			creds, err := p.exchange(ctx, podID, saToken(t, "shop", "cart", AudiencePodIdentity).Token, "auto")
			took := time.Since(began)
			if tt.fragments != nil {
				testkit.WantKind(t, err, tt.wantKind, tt.fragments...)
			} else if err != nil {
				t.Fatalf("Credentials after %v: %v", took, err)
			} else if want := fmt.Sprintf("ASIAPOD%d", a.calls()); creds.AccessKeyID != want {
				t.Errorf("credentials %s, want %s from the last answer", creds.AccessKeyID, want)
			}
			if tt.wantCalls != 0 && a.calls() != tt.wantCalls {
				t.Errorf("agent calls = %d, want %d", a.calls(), tt.wantCalls)
			}
			if took > tt.maxTook {
				t.Errorf("took %v, want at most %v", took, tt.maxTook)
			}
			t.Logf("%d calls in %v", a.calls(), took.Round(time.Millisecond))
		})
	}
}

func TestPodIdentityAgentDownFailsWithinTheDeadline(t *testing.T) {
	t.Parallel()
	for _, preferred := range []string{"ipv4", "auto"} {
		t.Run("with "+preferred+" a dead agent fails before the deadline naming the add-on", func(t *testing.T) {
			t.Parallel()
			p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: deadEndpoint(t), IPv6Endpoint: deadEndpoint(t)})
			const deadline = 1500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			began := time.Now()
			_, err := p.exchange(ctx, podID, saToken(t, "shop", "cart", AudiencePodIdentity).Token, preferred)
			took := time.Since(began)
			testkit.WantKind(t, err, failure.Unavailable, "shop/cart", "did not answer after", "attempts",
				"is the eks-pod-identity-agent add-on running on this node?", "connection refused")
			if took > deadline {
				t.Errorf("took %v, longer than the %v deadline", took, deadline)
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
		})
	}
}

func TestPodIdentityCancellationStopsRetriesPromptly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []agentStep
	}{
		{"an agent answering 500 stops being asked once the caller cancels", []agentStep{{status: 500}}},
		{"an agent that never answers stops being waited for once the caller cancels", []agentStep{{delay: time.Minute}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newScriptedAgent(t, tt.steps...)
			p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: a.URL, HTTPTimeout: 10 * time.Second})
			ctx, cancel := context.WithCancel(context.Background())
			var cancelled time.Time
			time.AfterFunc(300*time.Millisecond, func() { cancelled = time.Now(); cancel() })
			_, err := p.exchange(ctx, podID, saToken(t, "shop", "cart", AudiencePodIdentity).Token, "ipv4")
			if err == nil {
				t.Fatal("no error")
			}
			if late := time.Since(cancelled); late > 200*time.Millisecond {
				t.Errorf("returned %v after the cancellation", late)
			}
			calls := a.calls()
			time.Sleep(300 * time.Millisecond)
			if a.calls() != calls {
				t.Errorf("the agent was asked again after the caller returned")
			}
		})
	}
}

func TestPodIdentityAutoKeepsToTheEndpointThatAnswered(t *testing.T) {
	t.Parallel()
	t.Run("after IPv4 answered 500, the retry goes to IPv4 again and never to IPv6", func(t *testing.T) {
		t.Parallel()
		v4, v6 := newScriptedAgent(t, agentStep{status: 500}, agentStep{}), newScriptedAgent(t, agentStep{})
		p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: v4.URL, IPv6Endpoint: v6.URL})
		if _, err := p.exchange(context.Background(), podID, saToken(t, "shop", "cart", AudiencePodIdentity).Token, "auto"); err != nil {
			t.Fatal(err)
		}
		if v4.calls() != 2 || v6.calls() != 0 {
			t.Errorf("IPv4 calls %d, IPv6 calls %d; want 2 and 0", v4.calls(), v6.calls())
		}
	})
	t.Run("after IPv4 gave no answer and IPv6 answered 500, the retry goes to IPv6 alone", func(t *testing.T) {
		t.Parallel()
		v4 := newScriptedAgent(t, agentStep{delay: time.Minute})
		v6 := newScriptedAgent(t, agentStep{status: 503}, agentStep{})
		p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: v4.URL, IPv6Endpoint: v6.URL, HTTPTimeout: 100 * time.Millisecond})
		if _, err := p.exchange(context.Background(), podID, saToken(t, "shop", "cart", AudiencePodIdentity).Token, "auto"); err != nil {
			t.Fatal(err)
		}
		if v4.calls() != 1 || v6.calls() != 2 {
			t.Errorf("IPv4 calls %d, IPv6 calls %d; want 1 and 2", v4.calls(), v6.calls())
		}
	})
}

func TestPodIdentityAttemptTimeoutsDouble(t *testing.T) {
	t.Parallel()
	a := newScriptedAgent(t, agentStep{delay: time.Minute})
	p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: a.URL, HTTPTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 1600*time.Millisecond)
	defer cancel()
	_, err := p.exchange(ctx, podID, saToken(t, "shop", "cart", AudiencePodIdentity).Token, "ipv4")
	testkit.WantKind(t, err, failure.Timeout, "did not answer after", "no answer within")
	a.mu.Lock()
	defer a.mu.Unlock()
	// Attempts of 100, 200, 400 and 800ms, each after a backoff below 1s.
	if n := len(a.times); n < 3 || n > 5 {
		t.Fatalf("%d attempts in 1.6s, want 3 to 5 with doubling timeouts", n)
	}
	for i := 1; i < len(a.times)-1; i++ {
		gap := a.times[i+1].Sub(a.times[i])
		if want := 100 * time.Millisecond << i; gap < want {
			t.Errorf("attempt %d started %v after attempt %d, want at least its %v timeout", i+2, gap, i+1, want)
		}
	}
}

// TestResolveReportsTheAgentsCauseWithinTheMountsDeadline: the shared
// exchange ends before the Mount's deadline, so the Mount reads why.
func TestResolveReportsTheAgentsCauseWithinTheMountsDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.creds.providers[ModePodIdentity] = NewPodIdentity(PodIdentityOptions{IPv4Endpoint: deadEndpoint(t), IPv6Endpoint: deadEndpoint(t)})
	f.creds.minFlight = 0
	req := testReq(t, "shop", "cart", "p1")
	req.Mode = ModePodIdentity
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := f.creds.Resolve(ctx, req.mount())
	testkit.WantKind(t, err, failure.Unavailable, "is the eks-pod-identity-agent add-on running on this node?")
	if ctx.Err() != nil {
		t.Errorf("the error came after the Mount's deadline")
	}
}
