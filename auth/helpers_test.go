package auth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newClock() *testkit.Clock { return testkit.NewClock(t0) }

// makeJWT builds an unsigned-looking compact JWS with the given claims; the
// signature is junk, as CheckToken never verifies it.
func makeJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	return testkit.JWT(claims)
}

// saToken is a token as kubelet would send it for ns/sa and audience,
// valid for two hours from t0.
func saToken(t testing.TB, ns, sa, audience string) request.Token {
	exp := t0.Add(2 * time.Hour)
	tok := testkit.Token{Namespace: ns, ServiceAccount: sa, Audience: audience, Expires: exp}
	return request.Token{Token: tok.String(), Expiration: exp}
}

// podToken is saToken bound to a pod, as kubelet's TokenRequest for a CSI
// volume makes it: it carries a kubernetes.io pod claim.
func podToken(t testing.TB, ns, sa, audience, pod, uid string) request.Token {
	exp := t0.Add(2 * time.Hour)
	tok := testkit.Token{Namespace: ns, ServiceAccount: sa, Audience: audience, Expires: exp, Pod: &testkit.Pod{Name: pod, UID: uid}}
	return request.Token{Token: tok.String(), Expiration: exp}
}

// providers is the providers map of the modes given (nil ones left out).
func providers(irsa *IRSA, pi *PodIdentity) map[Mode]Provider {
	m := map[Mode]Provider{}
	if irsa != nil {
		m[ModeIRSA] = irsa
	}
	if pi != nil {
		m[ModePodIdentity] = pi
	}
	return m
}

// newCreds is NewCredentials with these providers and clock, the default
// scope.
func newCreds(roles Roles, irsa *IRSA, pi *PodIdentity, clock func() time.Time) *Credentials {
	c, err := NewCredentials(CredentialsOptions{Roles: roles, Providers: providers(irsa, pi), Clock: clock})
	if err != nil {
		panic(err)
	}
	return c
}

// testRequest is what a test states of one Mount; mount builds the parsed
// request.Mount auth reads, as request.Parser would.
type testRequest struct {
	Namespace, ServiceAccount, PodName, PodUID string
	Tokens                                     map[string]request.Token
	Mode                                       Mode
	PreferredAddressType, Region               string
	FailoverRegion                             string
}

func (r testRequest) mount() *request.Mount {
	mode := r.Mode
	if mode == "" {
		mode = ModeIRSA
	}
	return &request.Mount{
		Pod:    request.Pod{Namespace: r.Namespace, Name: r.PodName, UID: r.PodUID, ServiceAccount: r.ServiceAccount},
		Tokens: r.Tokens, Region: r.Region,
		Class: &class.Class{Mode: mode, PreferredAddressType: r.PreferredAddressType, FailoverRegion: r.FailoverRegion},
	}
}

// testReq is a Mount request for pod ns/pod (UID "uid-"+pod) running as
// sa, with tokens bound to that pod for both audiences.
func testReq(t testing.TB, ns, sa, pod string) testRequest {
	return testRequest{
		Namespace: ns, ServiceAccount: sa, PodName: pod, PodUID: "uid-" + pod, Region: "eu-west-1",
		Tokens: map[string]request.Token{
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
	clock *testkit.Clock
	ttl   time.Duration
	// gate, when set, holds every call until it is closed.
	gate chan struct{}

	mu    sync.Mutex
	calls []stsCall
	err   error
}

func newFakeSTS(clock *testkit.Clock) *fakeSTS { return &fakeSTS{clock: clock, ttl: time.Hour} }

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
