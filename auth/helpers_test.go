package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is an injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// makeJWT builds an unsigned-looking compact JWS with the given claims; the
// signature is junk, as CheckToken never verifies it.
func makeJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "RS256", "kid": "test"}) + "." + enc(claims) + ".c2lnbmF0dXJlLW5vdC1jaGVja2Vk"
}

// saToken is a token as kubelet would send it for ns/sa and audience,
// valid for two hours from t0.
func saToken(t testing.TB, ns, sa, audience string) Token {
	exp := t0.Add(2 * time.Hour)
	return Token{
		Token: makeJWT(t, map[string]any{
			"sub": "system:serviceaccount:" + ns + ":" + sa,
			"aud": []string{audience},
			"exp": exp.Unix(),
			"iat": t0.Unix(),
			"iss": "https://oidc.example",
		}),
		Expiration: exp,
	}
}

// podToken is saToken bound to a pod, as kubelet's TokenRequest for a CSI
// volume makes it: it carries a kubernetes.io pod claim.
func podToken(t testing.TB, ns, sa, audience, pod, uid string) Token {
	exp := t0.Add(2 * time.Hour)
	return Token{
		Token: makeJWT(t, map[string]any{
			"sub": "system:serviceaccount:" + ns + ":" + sa,
			"aud": []string{audience},
			"exp": exp.Unix(),
			"iat": t0.Unix(),
			"iss": "https://oidc.example",
			"kubernetes.io": map[string]any{
				"namespace":      ns,
				"serviceaccount": map[string]string{"name": sa, "uid": "sa-uid-" + sa},
				"pod":            map[string]string{"name": pod, "uid": uid},
			},
		}),
		Expiration: exp,
	}
}

// request is a Mount request for pod ns/pod (UID "uid-"+pod) running as
// sa, with tokens bound to that pod for both audiences.
func request(t testing.TB, ns, sa, pod string) Request {
	return Request{
		Namespace: ns, ServiceAccount: sa, PodName: pod, PodUID: "uid-" + pod, Region: "eu-west-1",
		Tokens: map[string]Token{
			AudienceSTS:         podToken(t, ns, sa, AudienceSTS, pod, "uid-"+pod),
			AudiencePodIdentity: podToken(t, ns, sa, AudiencePodIdentity, pod, "uid-"+pod),
		},
	}
}

// sa is a ServiceAccount the fake Roles knows; role "" = no annotation.
type sa struct{ namespace, name, role string }

func serviceAccount(ns, name, role string) sa { return sa{namespace: ns, name: name, role: role} }

// fakeRoles is Roles over a map, read on every call as a direct GET would
// be, answering missing ServiceAccounts and annotations as package kube
// does.
type fakeRoles struct {
	mu    sync.Mutex
	roles map[string]string // namespace/name -> role
	calls int
}

func newRoles(sas ...sa) *fakeRoles {
	r := &fakeRoles{roles: map[string]string{}}
	for _, s := range sas {
		r.set(s)
	}
	return r
}

// set creates the ServiceAccount or changes its role.
func (r *fakeRoles) set(s sa) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roles[s.namespace+"/"+s.name] = s.role
}

// count is how many times RoleARN was asked.
func (r *fakeRoles) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func (r *fakeRoles) RoleARN(_ context.Context, namespace, serviceAccount string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	role, ok := r.roles[namespace+"/"+serviceAccount]
	switch {
	case !ok:
		return "", failure.New(failure.FailedPrecondition, "ServiceAccount %s/%s not found", namespace, serviceAccount)
	case role == "":
		return "", failure.New(failure.FailedPrecondition,
			"ServiceAccount %s/%s has no %s annotation; annotate it with the IAM role to assume, or set usePodIdentity: \"true\"",
			namespace, serviceAccount, roleAnnotation)
	}
	return role, nil
}

// stsCall is one AssumeRoleWithWebIdentity the fake received.
type stsCall struct {
	region, roleARN, sessionName, token string
	duration                            int32
}

// fakeSTS counts AssumeRoleWithWebIdentity calls per region and answers
// with numbered credentials valid for ttl from the clock's now.
type fakeSTS struct {
	clock *fakeClock
	ttl   time.Duration
	// gate, when set, holds every call until it is closed.
	gate chan struct{}

	mu    sync.Mutex
	calls []stsCall
	err   error
}

func newFakeSTS(clock *fakeClock) *fakeSTS { return &fakeSTS{clock: clock, ttl: time.Hour} }

func (f *fakeSTS) forRegion(region string) STSAPI { return regionalSTS{f: f, region: region} }

func (f *fakeSTS) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSTS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeSTS) last() stsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[len(f.calls)-1]
}

type regionalSTS struct {
	f      *fakeSTS
	region string
}

func (r regionalSTS) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, _ ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	f := r.f
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, stsCall{
		region: r.region, roleARN: aws.ToString(in.RoleArn), sessionName: aws.ToString(in.RoleSessionName),
		token: aws.ToString(in.WebIdentityToken), duration: aws.ToInt32(in.DurationSeconds),
	})
	if f.err != nil {
		return nil, f.err
	}
	n := len(f.calls)
	return &sts.AssumeRoleWithWebIdentityOutput{Credentials: &ststypes.Credentials{
		AccessKeyId:     aws.String(fmt.Sprintf("ASIA%d", n)),
		SecretAccessKey: aws.String(fmt.Sprintf("secret-%d", n)),
		SessionToken:    aws.String(fmt.Sprintf("session-%d", n)),
		Expiration:      aws.Time(f.clock.Now().Add(f.ttl)),
	}}, nil
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// wantKind fails unless err is a failure of kind whose text contains every
// fragment.
func wantKind(t *testing.T, err error, kind failure.Kind, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if got := failure.KindOf(err); got != kind {
		t.Errorf("kind = %v, want %v (error: %v)", got, kind, err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err.Error(), f)
		}
	}
}
