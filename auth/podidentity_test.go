package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// fakeAgent is an EKS Pod Identity agent on loopback. It answers only a
// request whose Authorization header is a token for pods.eks.amazonaws.com.
type fakeAgent struct {
	*httptest.Server
	calls atomic.Int32
	// status and body, when status is set, replace the normal answer.
	status int
	body   string
	// delay holds every answer.
	delay time.Duration
}

func newFakeAgent(t *testing.T, clock *testkit.Clock) *fakeAgent {
	a := &fakeAgent{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := a.calls.Add(1)
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		if a.status != 0 {
			w.WriteHeader(a.status)
			fmt.Fprint(w, a.body)
			return
		}
		c, err := decodeClaims(r.Header.Get("Authorization"))
		auds, _ := audiences(c.Audience)
		if err != nil || !slices.Contains(auds, AudiencePodIdentity) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":"InvalidToken","message":"Service account token is not for pods.eks.amazonaws.com"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId":     fmt.Sprintf("ASIAPOD%d", n),
			"SecretAccessKey": "pod-secret",
			"Token":           "pod-session",
			"AccountId":       "123456789012",
			"Expiration":      clock.Now().Add(6 * time.Hour).Format(time.RFC3339),
		})
	}))
	t.Cleanup(a.Close)
	return a
}

// deadEndpoint is a loopback URL nothing listens on.
func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/v1/credentials"
}

var podID = Identity{Mode: ModePodIdentity, Namespace: "shop", ServiceAccount: "cart", Region: "eu-west-1", PodName: "cart-1"}

func TestPodIdentityEndpointChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		preferred        string
		v4Up, v6Up       bool
		wantV4Calls      int32
		wantV6Calls      int32
		wantErr          failure.Kind
		wantErrFragments []string
	}{
		{name: "ipv4 uses only the IPv4 endpoint", preferred: "ipv4", v4Up: true, v6Up: true, wantV4Calls: 1},
		{name: "ipv4 does not fall back to IPv6", preferred: "IPv4", v6Up: true,
			wantErr: failure.Unavailable, wantErrFragments: []string{"did not answer", "shop/cart"}},
		{name: "ipv6 uses only the IPv6 endpoint", preferred: "ipv6", v4Up: true, v6Up: true, wantV6Calls: 1},
		{name: "ipv6 in any case is ipv6", preferred: "IPV6", v4Up: true, v6Up: true, wantV6Calls: 1},
		{name: "auto prefers IPv4", preferred: "auto", v4Up: true, v6Up: true, wantV4Calls: 1},
		{name: "auto falls back to IPv6 when IPv4 does not connect", preferred: "auto", v6Up: true, wantV6Calls: 1},
		{name: "an unknown preference is auto", preferred: "dual", v6Up: true, wantV6Calls: 1},
		{name: "an empty preference is auto", v4Up: true, v6Up: true, wantV4Calls: 1},
		{name: "auto with neither endpoint up is unavailable", preferred: "auto",
			wantErr: failure.Unavailable, wantErrFragments: []string{"did not answer", "eks-pod-identity-agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			v4, v6 := newFakeAgent(t, clock), newFakeAgent(t, clock)
			opts := PodIdentityOptions{IPv4Endpoint: v4.URL + "/v1/credentials", IPv6Endpoint: v6.URL + "/v1/credentials"}
			if !tt.v4Up {
				opts.IPv4Endpoint = deadEndpoint(t)
			}
			if !tt.v6Up {
				opts.IPv6Endpoint = deadEndpoint(t)
			}
			tok := saToken(t, "shop", "cart", AudiencePodIdentity).Token
			// A dead endpoint is retried until the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			creds, err := NewPodIdentity(opts).exchange(ctx, podID, tok, tt.preferred)
			if tt.wantErrFragments != nil {
				testkit.WantKind(t, err, tt.wantErr, tt.wantErrFragments...)
			} else if err != nil {
				t.Fatal(err)
			} else if !strings.HasPrefix(creds.AccessKeyID, "ASIAPOD") || creds.SecretAccessKey != "pod-secret" ||
				creds.SessionToken != "pod-session" || creds.AccountID != "123456789012" ||
				!creds.CanExpire || !creds.Expires.Equal(t0.Add(6*time.Hour)) {
				t.Errorf("credentials = %+v", creds)
			}
			if v4.calls.Load() != tt.wantV4Calls || v6.calls.Load() != tt.wantV6Calls {
				t.Errorf("IPv4 agent calls %d, IPv6 agent calls %d; want %d, %d",
					v4.calls.Load(), v6.calls.Load(), tt.wantV4Calls, tt.wantV6Calls)
			}
		})
	}
}

func TestPodIdentityAutoFallsBackWhenIPv4TimesOut(t *testing.T) {
	t.Parallel()
	clock := newClock()
	v4, v6 := newFakeAgent(t, clock), newFakeAgent(t, clock)
	v4.delay = 5 * time.Second
	p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: v4.URL, IPv6Endpoint: v6.URL, HTTPTimeout: 100 * time.Millisecond})
	tok := saToken(t, "shop", "cart", AudiencePodIdentity).Token
	if _, err := p.exchange(context.Background(), podID, tok, "auto"); err != nil {
		t.Fatal(err)
	}
	if v6.calls.Load() != 1 {
		t.Errorf("IPv6 agent calls = %d, want 1", v6.calls.Load())
	}
}

func TestPodIdentityAgentRefusals(t *testing.T) {
	t.Parallel()
	const hint = "needs an EKS Pod Identity association"
	tests := []struct {
		name      string
		status    int
		body      string
		kind      failure.Kind
		fragments []string
	}{
		{"a 400 answer is a precondition with the association hint", 400,
			`{"code":"InvalidParameter","message":"Invalid service account token"}`, failure.FailedPrecondition,
			[]string{"HTTP 400: InvalidParameter: Invalid service account token", hint, "shop/cart"}},
		{"a 401 answer is a denial with the association hint", 401, `unauthorized`, failure.PermissionDenied,
			[]string{"HTTP 401: unauthorized", hint}},
		{"a 403 answer is a denial with the association hint", 403,
			`{"Code":"AccessDeniedException","Message":"no association"}`, failure.PermissionDenied,
			[]string{"AccessDeniedException: no association", hint}},
		{"a 404 answer is a precondition", 404, ``, failure.FailedPrecondition, []string{"HTTP 404", hint}},
		{"a 429 answer is throttling", 429, `slow down`, failure.Throttled, []string{"HTTP 429: slow down"}},
		{"a 500 answer is unavailable", 500, `{"message":"EKS Auth is down"}`, failure.Unavailable,
			[]string{"HTTP 500: EKS Auth is down"}},
		{"a 503 answer is unavailable", 503, ``, failure.Unavailable, []string{"HTTP 503"}},
		{"a long text answer is shortened", 500, strings.Repeat("x", 1000), failure.Unavailable, []string{"xxx..."}},
		{"an answer that is not JSON credentials is unavailable", 200, `<html>`, failure.Unavailable,
			[]string{"not JSON credentials"}},
		{"an answer without keys is unavailable", 200, `{"Expiration":"2026-03-01T18:00:00Z"}`, failure.Unavailable,
			[]string{"no AccessKeyId"}},
		{"an answer without an expiration is unavailable", 200, `{"AccessKeyId":"A","SecretAccessKey":"S"}`, failure.Unavailable,
			[]string{"Expiration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			v4, v6 := newFakeAgent(t, clock), newFakeAgent(t, clock)
			v4.status, v4.body = tt.status, tt.body
			p := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: v4.URL, IPv6Endpoint: v6.URL})
			tok := saToken(t, "shop", "cart", AudiencePodIdentity).Token
			// 429 and 5xx are retried until the deadline, then reported.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := p.exchange(ctx, podID, tok, "auto")
			testkit.WantKind(t, err, tt.kind, tt.fragments...)
			if v6.calls.Load() != 0 {
				t.Errorf("an HTTP answer from IPv4 must not fall back to IPv6 (%d calls)", v6.calls.Load())
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

func TestPodIdentityDefaults(t *testing.T) {
	t.Parallel()
	p := NewPodIdentity(PodIdentityOptions{})
	if p.v4 != "http://169.254.170.23/v1/credentials" || p.v6 != "http://[fd00:ec2::23]/v1/credentials" || p.timeout != time.Second {
		t.Errorf("defaults: %q %q %v", p.v4, p.v6, p.timeout)
	}
	if tr, ok := p.client.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Errorf("the default client may send the token through a proxy")
	}
	shared := &http.Client{}
	if NewPodIdentity(PodIdentityOptions{HTTPClient: shared}).client != shared {
		t.Errorf("the given client is not used")
	}
}
