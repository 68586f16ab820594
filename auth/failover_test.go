package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// scriptedRegions is an STSForRegion over fakeSTS where a region may be
// scripted to fail: its function runs first, and a non-nil error is the
// answer. It records every region asked, in order.
type scriptedRegions struct {
	fs     *fakeSTS
	script map[string]func(ctx context.Context) error

	mu    sync.Mutex
	asked []string
}

func (s *scriptedRegions) forRegion(region string) STSAPI { return scriptedSTS{s: s, region: region} }

func (s *scriptedRegions) regions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.asked...)
}

type scriptedSTS struct {
	s      *scriptedRegions
	region string
}

func (r scriptedSTS) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, opts ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	r.s.mu.Lock()
	r.s.asked = append(r.s.asked, r.region)
	r.s.mu.Unlock()
	if fail := r.s.script[r.region]; fail != nil {
		if err := fail(ctx); err != nil {
			return nil, err
		}
	}
	return r.s.fs.forRegion(r.region).AssumeRoleWithWebIdentity(ctx, in, opts...)
}

func answer(err error) func(context.Context) error {
	return func(context.Context) error { return err }
}

// hang never answers: the call ends with its context.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

var (
	stsDown     = &smithy.GenericAPIError{Code: "InternalFailure", Message: "STS is down", Fault: smithy.FaultServer}
	stsThrottle = &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient}
	stsDenied   = &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity", Fault: smithy.FaultClient}
)

func TestIRSAFailsOverToTheFailoverRegionsSTS(t *testing.T) {
	t.Parallel()
	const primary, failover = "eu-west-1", "eu-central-1"
	tests := []struct {
		name      string
		failover  string
		script    map[string]func(context.Context) error
		wantAsked []string
		wantKind  failure.Kind // when an error is expected
		fragments []string     // empty: success
	}{
		{name: "a server fault in the primary region is covered by the failover region", failover: failover,
			script: map[string]func(context.Context) error{primary: answer(stsDown)}, wantAsked: []string{primary, failover}},
		{name: "a primary region that does not answer in time is covered by the failover region", failover: failover,
			script: map[string]func(context.Context) error{primary: hang}, wantAsked: []string{primary, failover}},
		{name: "throttling left after retries is covered by the failover region", failover: failover,
			script: map[string]func(context.Context) error{primary: answer(stsThrottle)}, wantAsked: []string{primary, failover}},
		{name: "an AccessDenied in the primary region fails at once without asking the failover region", failover: failover,
			script:    map[string]func(context.Context) error{primary: answer(stsDenied)},
			wantAsked: []string{primary}, wantKind: failure.PermissionDenied, fragments: []string{"STS in eu-west-1", "AccessDenied"}},
		{name: "without a failover region the primary's error is returned", failover: "",
			script:    map[string]func(context.Context) error{primary: answer(stsDown)},
			wantAsked: []string{primary}, wantKind: failure.Unavailable, fragments: []string{"STS in eu-west-1", "STS is down"}},
		{name: "a failover region equal to the primary is not asked twice", failover: primary,
			script:    map[string]func(context.Context) error{primary: answer(stsDown)},
			wantAsked: []string{primary}, wantKind: failure.Unavailable, fragments: []string{"STS is down"}},
		{name: "when both regions fail the error names both and each cause", failover: failover,
			script:    map[string]func(context.Context) error{primary: hang, failover: answer(stsDown)},
			wantAsked: []string{primary, failover}, wantKind: failure.Timeout,
			fragments: []string{roleCart, "shop/cart", "STS in eu-west-1: timed out waiting for AWS", "failover region eu-central-1: InternalFailure: STS is down"}},
		{name: "a client fault in the failover region decides the kind", failover: failover,
			script:    map[string]func(context.Context) error{primary: answer(stsDown), failover: answer(stsDenied)},
			wantAsked: []string{primary, failover}, wantKind: failure.PermissionDenied,
			fragments: []string{"STS in eu-west-1: InternalFailure", "failover region eu-central-1: AccessDenied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sr := &scriptedRegions{fs: newFakeSTS(newClock()), script: tt.script}
			irsa := NewIRSA(sr.forRegion, IRSAOptions{})
			id := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart, Region: primary, PodName: "p1"}
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			defer cancel()
			creds, err := irsa.exchange(ctx, id, "tok", tt.failover)
			if got := sr.regions(); strings.Join(got, ",") != strings.Join(tt.wantAsked, ",") {
				t.Errorf("STS asked in %v, want %v", got, tt.wantAsked)
			}
			if len(tt.fragments) > 0 {
				testkit.WantKind(t, err, tt.wantKind, tt.fragments...)
				return
			}
			if err != nil {
				t.Fatalf("Credentials: %v", err)
			}
			if call := sr.fs.last(); call.region != failover || creds.AccessKeyID != "ASIA1" {
				t.Errorf("credentials %s from STS in %s, want ASIA1 from %s", creds.AccessKeyID, call.region, failover)
			}
		})
	}
}

func TestIRSAStopsWhenTheCallerGivesUp(t *testing.T) {
	t.Parallel()
	sr := &scriptedRegions{fs: newFakeSTS(newClock()), script: map[string]func(context.Context) error{"eu-west-1": hang}}
	id := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart, Region: "eu-west-1"}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := NewIRSA(sr.forRegion, IRSAOptions{}).exchange(ctx, id, "tok", "eu-central-1")
	if err == nil {
		t.Fatal("no error")
	}
	if got := sr.regions(); len(got) != 1 {
		t.Errorf("STS asked in %v after the caller cancelled, want the primary only", got)
	}
}

func TestResolveCachesFailoverCredentialsUnderTheIdentityKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	sr := &scriptedRegions{fs: f.sts, script: map[string]func(context.Context) error{"eu-west-1": answer(stsDown)}}
	f.creds.providers[ModeIRSA] = NewIRSA(sr.forRegion, IRSAOptions{})
	req := testReq(t, "shop", "cart", "p1")
	req.FailoverRegion = "eu-central-1"

	id, c := f.mustResolve(t, req)
	if id.Region != "eu-west-1" || c.AccessKeyID != "ASIA1" {
		t.Fatalf("identity region %s, credentials %s; want the primary region's identity with failover credentials", id.Region, c.AccessKeyID)
	}
	withoutFailover := testReq(t, "shop", "cart", "p2")
	for i := 0; i < 5; i++ {
		if _, c := f.mustResolve(t, withoutFailover); c.AccessKeyID != "ASIA1" {
			t.Fatalf("got %s, want the cached ASIA1", c.AccessKeyID)
		}
	}
	if got := sr.regions(); len(got) != 2 {
		t.Errorf("STS asked in %v, want once in each region and then the cache", got)
	}
}
