package auth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
	"github.com/csi-provider-aws/csi-provider-aws/request"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

type fixture struct {
	clock *testkit.Clock
	sts   *fakeSTS
	roles *fakeRoles
	agent *fakeAgent
	creds *Credentials
	// kube is the API server of a fixture whose roles come from package
	// kube (scopedFixture), nil otherwise.
	kube *fakekube.Server
}

func newFixture(t *testing.T, sas ...sa) *fixture {
	f := &fixture{clock: newClock(), roles: newRoles(sas...)}
	f.sts = newFakeSTS(f.clock)
	f.agent = newFakeAgent(t, f.clock)
	pi := NewPodIdentity(PodIdentityOptions{IPv4Endpoint: f.agent.URL, IPv6Endpoint: deadEndpoint(t)})
	f.creds = newCreds(f.roles, NewIRSA(f.sts.forRegion, IRSAOptions{}), pi, f.clock.Now)
	return f
}

// resolve returns the credentials Resolve's provider yields.
func (f *fixture) resolve(t *testing.T, req testRequest) (Identity, aws.Credentials, error) {
	t.Helper()
	id, p, err := f.creds.Resolve(context.Background(), req.mount())
	if err != nil {
		if p != nil {
			t.Errorf("Resolve returned a credentials provider with error %v", err)
		}
		return id, aws.Credentials{}, err
	}
	c, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("the provider failed: %v", err)
	}
	return id, c, nil
}

func (f *fixture) mustResolve(t *testing.T, req testRequest) (Identity, aws.Credentials) {
	t.Helper()
	id, c, err := f.resolve(t, req)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return id, c
}

func TestResolveIRSA(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	req := testReq(t, "shop", "cart", "cart-1")
	id, c := f.mustResolve(t, req)
	want := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart,
		Region: "eu-west-1", PodName: "cart-1", PodUID: "uid-cart-1"}
	if id != want {
		t.Errorf("identity = %+v, want %+v", id, want)
	}
	if c.AccessKeyID != "ASIA1" || c.SecretAccessKey != "secret-1" {
		t.Errorf("credentials = %+v, want the ones STS issued", c)
	}
	call := f.sts.last()
	if call.region != "eu-west-1" || call.roleARN != roleCart || call.token != req.Tokens[AudienceSTS].Token {
		t.Errorf("STS call = %+v: want the pod's sts.amazonaws.com token, role and region", call)
	}
}

func TestResolveRefusals(t *testing.T) {
	t.Parallel()
	expired := func(r testRequest) testRequest {
		tok := r.Tokens[AudienceSTS]
		tok.Expiration = t0.Add(-time.Second)
		r.Tokens = map[string]request.Token{AudienceSTS: tok}
		return r
	}
	tests := []struct {
		name      string
		req       func(testRequest) testRequest
		kind      failure.Kind
		fragments []string
	}{
		{"a request without the sts.amazonaws.com token says which tokenRequests audience to add",
			func(r testRequest) testRequest { delete(r.Tokens, AudienceSTS); return r }, failure.FailedPrecondition,
			[]string{`no service account token for audience "sts.amazonaws.com" in the request; add {audience: sts.amazonaws.com} to the tokenRequests of CSIDriver secrets-store.csi.k8s.io`}},
		{"a Pod Identity request without the pods.eks.amazonaws.com token says which audience to add",
			func(r testRequest) testRequest {
				delete(r.Tokens, AudiencePodIdentity)
				r.Mode = ModePodIdentity
				return r
			},
			failure.FailedPrecondition, []string{`add {audience: pods.eks.amazonaws.com} to the tokenRequests`}},
		{"a request whose token is for another ServiceAccount is refused",
			func(r testRequest) testRequest { r.Tokens = testReq(t, "shop", "admin", "x").Tokens; return r },
			failure.Unauthenticated, []string{"system:serviceaccount:shop:admin"}},
		{"a request whose sts token was minted for the Pod Identity audience is refused",
			func(r testRequest) testRequest { r.Tokens[AudienceSTS] = r.Tokens[AudiencePodIdentity]; return r },
			failure.Unauthenticated, []string{"audiences"}},
		{"an expired token is refused", expired, failure.Unauthenticated, []string{"expired"}},
		{"a ServiceAccount without a role annotation is a precondition",
			func(r testRequest) testRequest {
				r.ServiceAccount = "bare"
				r.Tokens = testReq(t, "shop", "bare", "x").Tokens
				return r
			},
			failure.FailedPrecondition, []string{"ServiceAccount shop/bare has no eks.amazonaws.com/role-arn annotation"}},
		{"a role annotation that is not a role ARN is a precondition",
			func(r testRequest) testRequest {
				r.ServiceAccount = "typo"
				r.Tokens = testReq(t, "shop", "typo", "x").Tokens
				return r
			},
			failure.FailedPrecondition, []string{`"cart-role" is not an IAM role ARN`}},
		{"a missing ServiceAccount is a precondition",
			func(r testRequest) testRequest {
				r.ServiceAccount = "ghost"
				r.Tokens = testReq(t, "shop", "ghost", "x").Tokens
				return r
			},
			failure.FailedPrecondition, []string{"ServiceAccount shop/ghost not found"}},
		{"a request without a namespace is invalid",
			func(r testRequest) testRequest { r.Namespace = ""; return r }, failure.InvalidArgument, []string{request.AttrPodNamespace}},
		{"a request without a region is a bug of the caller",
			func(r testRequest) testRequest { r.Region = ""; return r }, failure.Internal, []string{"region"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, serviceAccount("shop", "cart", roleCart), serviceAccount("shop", "bare", ""),
				serviceAccount("shop", "typo", "cart-role"))
			// Cache credentials for shop/cart first: refusals must hold even then.
			f.mustResolve(t, testReq(t, "shop", "cart", "cart-0"))
			f.mustResolve(t, func() testRequest { r := testReq(t, "shop", "cart", "cart-0"); r.Mode = ModePodIdentity; return r }())
			stsCalls, agentCalls := f.sts.count(), f.agent.calls.Load()

			_, _, err := f.resolve(t, tt.req(testReq(t, "shop", "cart", "cart-1")))
			testkit.WantKind(t, err, tt.kind, tt.fragments...)
			if f.sts.count() != stsCalls || f.agent.calls.Load() != agentCalls {
				t.Errorf("a refused request reached STS or the agent")
			}
		})
	}
}

func TestResolveCallsSTSOncePerIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	f.sts.gate = make(chan struct{})
	const pods = 50
	var wg sync.WaitGroup
	keys := make([]string, pods)
	for i := 0; i < pods; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, c, err := f.resolve(t, testReq(t, "shop", "cart", fmt.Sprintf("cart-%d", i)))
			if err != nil {
				t.Errorf("Resolve: %v", err)
				return
			}
			if c.AccessKeyID != "ASIA1" {
				t.Errorf("pod %d got %s, want the one shared credential", i, c.AccessKeyID)
			}
			keys[i] = id.Key()
		}()
	}
	// Let every Mount reach the cache before STS answers.
	time.Sleep(50 * time.Millisecond)
	close(f.sts.gate)
	wg.Wait()
	for i := 0; i < pods; i++ {
		f.mustResolve(t, testReq(t, "shop", "cart", "later"))
	}
	if n := f.sts.count(); n != 1 {
		t.Errorf("STS was called %d times for %d Mounts of one identity, want once", n, 2*pods)
	}
	for _, k := range keys {
		if k != keys[0] {
			t.Errorf("pods of one ServiceAccount have keys %q and %q", keys[0], k)
		}
	}
}

func TestResolveKeepsServiceAccountsSharingARoleApart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b [2]string // namespace, ServiceAccount
	}{
		{"two ServiceAccounts of one namespace with the same role", [2]string{"shop", "cart"}, [2]string{"shop", "checkout"}},
		{"two ServiceAccounts of one name in two namespaces with the same role", [2]string{"shop", "cart"}, [2]string{"blog", "cart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, serviceAccount(tt.a[0], tt.a[1], roleCart), serviceAccount(tt.b[0], tt.b[1], roleCart))
			idA, credsA := f.mustResolve(t, testReq(t, tt.a[0], tt.a[1], "pa"))
			idB, credsB := f.mustResolve(t, testReq(t, tt.b[0], tt.b[1], "pb"))
			if idA.Key() == idB.Key() {
				t.Errorf("both have key %q", idA.Key())
			}
			if credsA.AccessKeyID == credsB.AccessKeyID {
				t.Errorf("both got credential %s", credsA.AccessKeyID)
			}
			if n := f.sts.count(); n != 2 {
				t.Errorf("STS calls = %d, want 2", n)
			}
			// Each is served from its own entry afterwards.
			if _, c := f.mustResolve(t, testReq(t, tt.a[0], tt.a[1], "pa2")); c.AccessKeyID != credsA.AccessKeyID {
				t.Errorf("A got %s, want %s", c.AccessKeyID, credsA.AccessKeyID)
			}
			if _, c := f.mustResolve(t, testReq(t, tt.b[0], tt.b[1], "pb2")); c.AccessKeyID != credsB.AccessKeyID {
				t.Errorf("B got %s, want %s", c.AccessKeyID, credsB.AccessKeyID)
			}
			if n := f.sts.count(); n != 2 {
				t.Errorf("STS calls = %d after cached Mounts, want 2", n)
			}
		})
	}
}

func TestResolveFollowsARoleAnnotationChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	idOld, credsOld := f.mustResolve(t, testReq(t, "shop", "cart", "p1"))

	const roleNew = "arn:aws:iam::123456789012:role/cart-v2"
	f.roles.set(serviceAccount("shop", "cart", roleNew))
	idNew, credsNew := f.mustResolve(t, testReq(t, "shop", "cart", "p1"))
	if idNew.RoleARN != roleNew || idNew.Key() == idOld.Key() {
		t.Errorf("identity after the change = %+v (key %q, before %q)", idNew, idNew.Key(), idOld.Key())
	}
	if credsNew.AccessKeyID == credsOld.AccessKeyID {
		t.Errorf("the old role's credentials %s were served for the new role", credsOld.AccessKeyID)
	}
	if n, last := f.sts.count(), f.sts.last(); n != 2 || last.roleARN != roleNew {
		t.Errorf("STS calls = %d, last for %s; want 2, the last for %s", n, last.roleARN, roleNew)
	}
}

func TestResolveRefreshesAheadOfExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	req := testReq(t, "shop", "cart", "p1")
	if _, c := f.mustResolve(t, req); c.AccessKeyID != "ASIA1" {
		t.Fatalf("first credentials %s", c.AccessKeyID)
	}

	f.clock.Set(t0.Add(38 * time.Minute)) // before the earliest refresh (45m - 6m jitter)
	if _, c := f.mustResolve(t, req); c.AccessKeyID != "ASIA1" || f.sts.count() != 1 {
		t.Fatalf("at 38m: got %s after %d STS calls, want the cached ASIA1 and 1 call", c.AccessKeyID, f.sts.count())
	}

	f.clock.Set(t0.Add(50 * time.Minute)) // in the refresh window, still fresh
	if _, c := f.mustResolve(t, req); c.AccessKeyID != "ASIA1" {
		t.Fatalf("at 50m: got %s; the refresh must not hold up the Mount", c.AccessKeyID)
	}
	eventually(t, "the background refresh", func() bool {
		_, p, err := f.creds.Resolve(context.Background(), req.mount())
		if err != nil {
			t.Fatal(err)
		}
		c, _ := p.Retrieve(context.Background())
		return c.AccessKeyID == "ASIA2"
	})
	if n := f.sts.count(); n != 2 {
		t.Errorf("STS calls = %d, want 2", n)
	}
	if c := f.sts.last(); c.token != req.Tokens[AudienceSTS].Token {
		t.Errorf("the refresh used another token")
	}
}

func TestResolveNeverServesStaleCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	req := testReq(t, "shop", "cart", "p1")
	f.mustResolve(t, req)

	f.clock.Set(t0.Add(56 * time.Minute)) // less than 5 minutes left
	f.sts.setErr(&smithy.GenericAPIError{Code: "InternalFailure", Message: "STS is down", Fault: smithy.FaultServer})
	_, _, err := f.resolve(t, req)
	testkit.WantKind(t, err, failure.Unavailable, "STS is down")

	f.sts.setErr(nil)
	if _, c := f.mustResolve(t, req); c.AccessKeyID != "ASIA3" {
		t.Errorf("got %s, want fresh credentials", c.AccessKeyID)
	}
}

func TestResolveAfterAFailedRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		keepsEntry bool
	}{
		{"an STS outage keeps serving the cached credentials and retries later",
			&smithy.GenericAPIError{Code: "InternalFailure", Message: "down", Fault: smithy.FaultServer}, true},
		{"an STS denial drops the entry so the next Mount reports it",
			&smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity", Fault: smithy.FaultClient}, false},
		{"a rejected token drops the entry",
			&smithy.GenericAPIError{Code: "InvalidIdentityToken", Message: "bad", Fault: smithy.FaultClient}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, serviceAccount("shop", "cart", roleCart))
			req := testReq(t, "shop", "cart", "p1")
			f.mustResolve(t, req)
			f.sts.setErr(tt.err)
			f.clock.Set(t0.Add(50 * time.Minute))
			f.mustResolve(t, req) // starts the refresh
			eventually(t, "the refresh attempt", func() bool { return f.sts.count() == 2 })
			// The entry's fate is settled before the refresh completes.
			eventually(t, "the refresh to settle", func() bool {
				f.creds.mu.Lock()
				defer f.creds.mu.Unlock()
				e, ok := f.creds.cache.Peek(keyOf(t, f, req))
				return !ok || !e.retryAt.IsZero()
			})

			_, c, err := f.resolve(t, req)
			if tt.keepsEntry {
				if err != nil || c.AccessKeyID != "ASIA1" {
					t.Fatalf("got %s, %v; want the cached ASIA1", c.AccessKeyID, err)
				}
				if f.sts.count() != 2 {
					t.Errorf("a refresh was retried before the back-off: %d calls", f.sts.count())
				}
				f.clock.Set(t0.Add(50*time.Minute + 31*time.Second))
				eventually(t, "the retried refresh", func() bool {
					f.mustResolve(t, req)
					return f.sts.count() == 3
				})
				return
			}
			// Without the entry the Mount waits for STS and reports its answer.
			testkit.WantKind(t, err, failure.KindOf(tt.err))
		})
	}
}

func keyOf(t *testing.T, f *fixture, req testRequest) string {
	id, _, err := f.creds.identify(context.Background(), req.mount())
	if err != nil {
		t.Fatal(err)
	}
	return id.Key()
}

func TestResolvePodIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // no ServiceAccount object: Pod Identity does not read it
	req := testReq(t, "shop", "cart", "p1")
	req.Mode = ModePodIdentity
	req.PreferredAddressType = "auto"
	id, c := f.mustResolve(t, req)
	if id.Mode != ModePodIdentity || id.RoleARN != "" || c.AccessKeyID != "ASIAPOD1" {
		t.Errorf("identity %+v, credentials %s", id, c.AccessKeyID)
	}
	// The fake agent answers only a pods.eks.amazonaws.com token: it got one.
	for i := 0; i < 10; i++ {
		f.mustResolve(t, req)
	}
	if n := f.agent.calls.Load(); n != 1 {
		t.Errorf("agent calls = %d, want 1", n)
	}
	if f.sts.count() != 0 || f.roles.count() != 0 {
		t.Errorf("Pod Identity used STS (%d) or read a role (%d)", f.sts.count(), f.roles.count())
	}

	// IRSA for the same ServiceAccount is another identity.
	f.roles.set(serviceAccount("shop", "cart", roleCart))
	req.Mode = ModeIRSA
	if _, c := f.mustResolve(t, req); c.AccessKeyID != "ASIA1" {
		t.Errorf("IRSA for the same ServiceAccount got %s", c.AccessKeyID)
	}
}

func TestResolveReportsAgentRefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent.status, f.agent.body = 400, `{"code":"ResourceNotFoundException","message":"no association"}`
	req := testReq(t, "shop", "cart", "p1")
	req.Mode = ModePodIdentity
	_, _, err := f.resolve(t, req)
	testkit.WantKind(t, err, failure.FailedPrecondition, "ServiceAccount shop/cart needs an EKS Pod Identity association", "no association")
}

func TestResolveCacheIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("a", "sa", roleCart), serviceAccount("b", "sa", roleCart), serviceAccount("c", "sa", roleCart))
	small, _ := lru.New[string, *cached](2)
	f.creds.cache = small
	for _, ns := range []string{"a", "b", "c", "a"} {
		f.mustResolve(t, testReq(t, ns, "sa", "p"))
	}
	if n := f.sts.count(); n != 4 {
		t.Errorf("STS calls = %d, want 4 (the least recently used identity was evicted)", n)
	}
	if f.creds.cache.Len() != 2 {
		t.Errorf("cache holds %d entries, want 2", f.creds.cache.Len())
	}
}

func TestResolveWaitsNoLongerThanTheMount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart))
	f.sts.gate = make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, p, err := f.creds.Resolve(ctx, testReq(t, "shop", "cart", "p1").mount())
	testkit.WantKind(t, err, failure.Timeout, "shop/cart")
	if p != nil {
		t.Errorf("a provider was returned with the error")
	}
	// The exchange goes on for the Mounts that come next.
	close(f.sts.gate)
	eventually(t, "the exchange to finish", func() bool { return f.sts.count() == 1 })
	if _, c := f.mustResolve(t, testReq(t, "shop", "cart", "p2")); c.AccessKeyID != "ASIA1" || f.sts.count() != 1 {
		t.Errorf("got %s after %d STS calls", c.AccessKeyID, f.sts.count())
	}
}

func TestResolveOffersOnlyConfiguredModes(t *testing.T) {
	t.Parallel()
	c := newCreds(newRoles(), nil, nil, newClock().Now)
	req := testReq(t, "shop", "cart", "p1")
	_, _, err := c.Resolve(context.Background(), req.mount())
	testkit.WantKind(t, err, failure.FailedPrecondition, "irsa")
}
