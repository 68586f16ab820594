package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

const testRole = "arn:aws:iam::123456789012:role/app"

// fetchEnv is a Fetcher over the in-process fake AWS with real SDK clients.
type fetchEnv struct {
	t     *testing.T
	aws   *fakeaws.Server
	f     *Fetcher
	clock *testkit.Clock
	creds aws.CredentialsProvider
}

func newFetchEnv(t *testing.T, opts FetcherOptions) *fetchEnv {
	t.Helper()
	fake := fakeaws.New()
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, err := LoadAWSConfig(context.Background(), AWSConfigOptions{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(fake.URL())
	clk := testkit.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	opts.Clock = clk.Now
	f := NewFetcher(NewClients(cfg), opts)
	t.Cleanup(f.Wait)
	return &fetchEnv{t: t, aws: fake, f: f, clock: clk, creds: credsFor(fake, testRole, "s")}
}

func credsFor(fake *fakeaws.Server, role, session string) aws.CredentialsProvider {
	c := fake.IssueCredentials(role, session)
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// secrets seeds n secrets in region and returns a class that lists them.
// regional is a class and the primary region its Mounts read in (the
// server resolves it and passes it beside the class).
type regional struct {
	*class.Class
	region string
}

func (e *fetchEnv) secrets(region string, n int) regional {
	c := regional{region: region, Class: &class.Class{}}
	for i := range n {
		name := fmt.Sprintf("s%02d", i)
		e.aws.PutSecretString(region, name, "v1-"+name)
		c.Objects = append(c.Objects, class.Object{Index: i, Name: name, Type: SecretsManager, FileName: name, Mode: 0o644})
	}
	return c
}

func (e *fetchEnv) fetch(scope string, c regional) ([]Value, error) {
	return e.f.Fetch(context.Background(), FetchRequest{Scope: scope, Credentials: e.creds, Mount: &request.Mount{Class: c.Class, Region: c.region}})
}

func (e *fetchEnv) mustFetch(scope string, c regional) []Value {
	e.t.Helper()
	v, err := e.fetch(scope, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *fetchEnv) calls() map[string]int {
	m := e.aws.Calls()
	e.aws.ResetCalls()
	return m
}

func TestACodeBurstOfFiftyPodsMakesOneBatchCall(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: 2 * time.Minute})
	c := e.secrets("us-west-2", 10)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := e.fetch("irsa/team/app", c)
			if err == nil && string(v[3].Data) != "v1-s03" {
				err = fmt.Errorf("value of s03 = %q", v[3].Data)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.calls(); fmt.Sprint(got) != "map[secretsmanager:BatchGetSecretValue:1]" {
		t.Errorf("AWS calls for a burst of 50 = %v, want one BatchGetSecretValue", got)
	}
}

func TestTheValueCache(t *testing.T) {
	ttl := 2 * time.Minute
	e := newFetchEnv(t, FetcherOptions{CacheTTL: ttl})
	c := e.secrets("us-west-2", 10)
	scope := "irsa/team/app"
	e.mustFetch(scope, c)
	e.calls()

	t.Run("a republish within the TTL makes no AWS call", func(t *testing.T) {
		e.clock.Advance(ttl - time.Second)
		e.mustFetch(scope, c)
		if got := e.calls(); len(got) != 0 {
			t.Errorf("calls = %v, want none", got)
		}
	})
	t.Run("after the TTL one batch call re-reads all ten and sees AWSCURRENT move", func(t *testing.T) {
		_, v2 := e.aws.PutSecretString("us-west-2", "s04", "v2-s04")
		e.clock.Advance(2 * time.Second)
		v := e.mustFetch(scope, c)
		if string(v[4].Data) != "v2-s04" || v[4].Version != v2 {
			t.Errorf("s04 = %q version %s, want v2-s04 version %s", v[4].Data, v[4].Version, v2)
		}
		if got := e.calls(); fmt.Sprint(got) != "map[secretsmanager:BatchGetSecretValue:1]" {
			t.Errorf("calls = %v, want one BatchGetSecretValue", got)
		}
	})
	t.Run("another identity with the same role never gets the cached values", func(t *testing.T) {
		e.mustFetch("irsa/other-namespace/app", c)
		if got := e.calls(); got["secretsmanager:BatchGetSecretValue"] != 1 {
			t.Errorf("calls = %v, want its own BatchGetSecretValue", got)
		}
	})
	t.Run("a value the other identity may not read is refused to it even while cached for the first", func(t *testing.T) {
		other := "irsa/denied/app"
		deniedRole := "arn:aws:iam::123456789012:role/denied"
		e.aws.DenySecret(deniedRole, "s01")
		_, err := e.f.Fetch(context.Background(), FetchRequest{Scope: other, Credentials: credsFor(e.aws, deniedRole, "d"), Mount: &request.Mount{Class: c.Class, Region: c.region}})
		if failure.KindOf(err) != failure.PermissionDenied || !strings.Contains(err.Error(), `"s01"`) {
			t.Errorf("err = %v, want PermissionDenied naming s01", err)
		}
		e.calls()
	})
}

func TestPinnedVersionsAreConfirmedEveryTTLNotServedForever(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	_, v1 := e.aws.PutSecretString("us-west-2", "db", "one")
	e.aws.PutSecretString("us-west-2", "db", "two")
	e.aws.PutParameter("us-west-2", "/p", "String", "p1")
	e.aws.PutParameter("us-west-2", "/p", "String", "p2")
	c := regional{region: "us-west-2", Class: &class.Class{Objects: []class.Object{
		{Index: 0, Name: "db", Type: SecretsManager, Version: v1},
		{Index: 1, Name: "/p", Type: ParameterStore, Version: "1"},
	}}}
	v := e.mustFetch("scope", c)
	if string(v[0].Data) != "one" || string(v[1].Data) != "p1" || v[1].Version != "1" {
		t.Fatalf("values = %q %q", v[0].Data, v[1].Data)
	}
	e.calls()

	t.Run("within the TTL nothing is asked", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		e.mustFetch("scope", c)
		if got := e.calls(); len(got) != 0 {
			t.Errorf("calls = %v, want none", got)
		}
	})
	t.Run("after the TTL the VersionId is confirmed by a batched read and the SSM version read again", func(t *testing.T) {
		e.clock.Advance(time.Hour)
		v := e.mustFetch("scope", c)
		if string(v[0].Data) != "one" || string(v[1].Data) != "p1" {
			t.Errorf("values = %q %q", v[0].Data, v[1].Data)
		}
		if got := e.calls(); fmt.Sprint(got) != "map[secretsmanager:BatchGetSecretValue:1 ssm:GetParameters:1]" {
			t.Errorf("calls = %v, want one batched confirmation and one GetParameters", got)
		}
	})
	t.Run("an SSM parameter deleted and created again is not served its old version 1", func(t *testing.T) {
		e.aws.DeleteParameterNow("us-west-2", "/p")
		e.aws.PutParameter("us-west-2", "/p", "String", "recreated")
		e.clock.Advance(2 * time.Minute)
		v := e.mustFetch("scope", c)
		if string(v[1].Data) != "recreated" {
			t.Errorf("SSM version 1 = %q, want the re-created parameter's", v[1].Data)
		}
		e.calls()
	})
	t.Run("once AWS denies the secret the pinned value is refused, not served from memory", func(t *testing.T) {
		e.aws.DenySecret(testRole, "db")
		e.clock.Advance(2 * time.Minute)
		_, err := e.fetch("scope", c)
		if failure.KindOf(err) != failure.PermissionDenied || !strings.Contains(err.Error(), `"db"`) {
			t.Fatalf("err = %v, want PermissionDenied naming db", err)
		}
		if got := e.calls(); got["secretsmanager:GetSecretValue"] != 1 {
			t.Errorf("calls = %v, want the batch denial checked against the pinned version itself", got)
		}
		e.aws.ClearPolicies()
	})
}

func TestAPinnedVersionAllowedWhenTheCurrentOneIsDeniedIsStillServed(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	_, v1 := e.aws.PutSecretString("us-west-2", "db", "one")
	c := regional{region: "us-west-2", Class: &class.Class{Objects: []class.Object{{Index: 0, Name: "db", Type: SecretsManager, Version: v1}}}}
	e.mustFetch("scope", c)
	e.aws.DenyAction(testRole, "secretsmanager:BatchGetSecretValue")
	e.clock.Advance(2 * time.Minute)
	e.calls()
	v := e.mustFetch("scope", c)
	if string(v[0].Data) != "one" {
		t.Errorf("value = %q", v[0].Data)
	}
	if got := e.calls(); got["secretsmanager:GetSecretValue"] != 1 {
		t.Errorf("calls = %v, want the pinned version read itself after the batch was refused", got)
	}
}

func TestLabelsAreReadAgainAfterTheTTL(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	e.aws.PutSecretString("us-west-2", "db", "one")
	e.aws.PutSecretString("us-west-2", "db", "two")
	v1 := e.aws.PutParameter("us-west-2", "/p", "String", "p1")
	if err := e.aws.LabelParameter("us-west-2", "/p", v1, "stable"); err != nil {
		t.Fatal(err)
	}
	c := regional{region: "us-west-2", Class: &class.Class{Objects: []class.Object{
		{Index: 0, Name: "db", Type: SecretsManager, VersionLabel: "AWSPREVIOUS"},
		{Index: 1, Name: "/p", Type: ParameterStore, VersionLabel: "stable"},
	}}}
	v := e.mustFetch("scope", c)
	if string(v[0].Data) != "one" || string(v[1].Data) != "p1" {
		t.Fatalf("values = %q %q", v[0].Data, v[1].Data)
	}
	e.aws.PutSecretString("us-west-2", "db", "three")
	v2 := e.aws.PutParameter("us-west-2", "/p", "String", "p2")
	if err := e.aws.LabelParameter("us-west-2", "/p", v2, "stable"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	v = e.mustFetch("scope", c)
	if string(v[0].Data) != "two" || string(v[1].Data) != "p2" {
		t.Errorf("after the labels moved and the TTL passed: %q %q, want two and p2", v[0].Data, v[1].Data)
	}
}

func TestNotBeforeRefusesValuesConfirmedBeforeThePodsPreviousMount(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Hour})
	c := e.secrets("us-west-2", 2)
	e.mustFetch("scope", c)
	e.clock.Advance(time.Second)
	previousMount := e.clock.Now()
	e.aws.PutSecretString("us-west-2", "s01", "v2-s01")
	e.calls()
	e.clock.Advance(time.Second)

	v, err := e.f.Fetch(context.Background(), FetchRequest{Scope: "scope", Credentials: e.creds, Mount: &request.Mount{Class: c.Class, Region: c.region}, NotBefore: previousMount})
	if err != nil {
		t.Fatal(err)
	}
	if string(v[1].Data) != "v2-s01" {
		t.Errorf("a republish got %q, a value read before its previous Mount", v[1].Data)
	}
	if got := e.calls(); got["secretsmanager:BatchGetSecretValue"] != 1 {
		t.Errorf("calls = %v, want one batch", got)
	}
	t.Run("other pods whose previous Mount came before that read share it", func(t *testing.T) {
		for range 5 {
			if _, err := e.f.Fetch(context.Background(), FetchRequest{Scope: "scope", Credentials: e.creds, Mount: &request.Mount{Class: c.Class, Region: c.region}, NotBefore: previousMount}); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.calls(); len(got) != 0 {
			t.Errorf("calls = %v, want none", got)
		}
	})
}

func TestStaleValuesCoverServerFaultsNeverDenials(t *testing.T) {
	ttl, staleMax := time.Minute, 15*time.Minute
	obs := &staleCounter{}
	e := newFetchEnv(t, FetcherOptions{CacheTTL: ttl, StaleMax: staleMax, Observer: obs})
	c := e.secrets("us-west-2", 2)
	e.mustFetch("scope", c)

	t.Run("a server fault after the TTL serves the last good value and counts it", func(t *testing.T) {
		e.clock.Advance(2 * ttl)
		e.aws.Inject(fakeaws.Fault{Status: 500})
		v := e.mustFetch("scope", c)
		if string(v[0].Data) != "v1-s00" {
			t.Errorf("value = %q", v[0].Data)
		}
		if obs.count() != 2 {
			t.Errorf("stale values counted = %d, want 2", obs.count())
		}
	})
	t.Run("throttling after retries serves it too", func(t *testing.T) {
		e.aws.ClearFaults()
		e.aws.Inject(fakeaws.Fault{Status: 429})
		e.mustFetch("scope", c)
	})
	t.Run("past the stale bound the fault fails the mount", func(t *testing.T) {
		e.clock.Advance(staleMax)
		_, err := e.fetch("scope", c)
		if failure.KindOf(err) != failure.Throttled {
			t.Errorf("err = %v, want Throttled", err)
		}
	})
	t.Run("a denial is never covered by a stale value", func(t *testing.T) {
		e.aws.ClearFaults()
		e2 := newFetchEnv(t, FetcherOptions{CacheTTL: ttl, StaleMax: staleMax})
		c2 := e2.secrets("us-west-2", 1)
		e2.mustFetch("scope", c2)
		e2.clock.Advance(2 * ttl)
		e2.aws.DenySecret(testRole, "s00")
		if _, err := e2.fetch("scope", c2); failure.KindOf(err) != failure.PermissionDenied {
			t.Fatalf("err = %v, want PermissionDenied", err)
		}
		e2.aws.ClearPolicies()
		e2.aws.Inject(fakeaws.Fault{Status: 500})
		if _, err := e2.fetch("scope", c2); err == nil {
			t.Error("after a denial a later server fault was covered by the value AWS had refused")
		}
	})
}

// staleCounter is the Fetcher's observer in tests: stale values served
// and optional objects left out.
type staleCounter struct {
	mu         sync.Mutex
	n, missing int
}

func (s *staleCounter) ObserveStaleValue(string)      { s.mu.Lock(); s.n++; s.mu.Unlock() }
func (s *staleCounter) ObserveOptionalMissing(string) { s.mu.Lock(); s.missing++; s.mu.Unlock() }
func (s *staleCounter) count() int                    { s.mu.Lock(); defer s.mu.Unlock(); return s.n }
func (s *staleCounter) missingCount() int             { s.mu.Lock(); defer s.mu.Unlock(); return s.missing }
func (s *staleCounter) ObserveValueLookup(bool)       {}

func TestTTLZeroReadsAWSOnEveryFetch(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: 0})
	c := e.secrets("us-west-2", 3)
	for range 3 {
		e.mustFetch("scope", c)
	}
	if got := e.calls(); got["secretsmanager:BatchGetSecretValue"] != 3 {
		t.Errorf("calls = %v, want a read per fetch", got)
	}
	if n, _ := e.f.CacheStats(); n != 0 {
		t.Errorf("the disabled cache holds %d values", n)
	}
}

func TestMoreThanTwentySecretsAreReadInBatchesOfTwenty(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	c := e.secrets("us-west-2", 45)
	v := e.mustFetch("scope", c)
	if string(v[44].Data) != "v1-s44" {
		t.Errorf("s44 = %q", v[44].Data)
	}
	if got := e.calls(); got["secretsmanager:BatchGetSecretValue"] != 3 || len(got) != 1 {
		t.Errorf("calls = %v, want three BatchGetSecretValue", got)
	}
}

func TestWithoutBatchPermissionTheFetcherFallsBackAndRemembers(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	c := e.secrets("us-west-2", 4)
	e.aws.DenyAction(testRole, "secretsmanager:BatchGetSecretValue")
	v := e.mustFetch("scope", c)
	if string(v[2].Data) != "v1-s02" {
		t.Errorf("s02 = %q", v[2].Data)
	}
	if got := e.calls(); got["secretsmanager:BatchGetSecretValue"] != 1 || got["secretsmanager:GetSecretValue"] != 4 {
		t.Errorf("first fetch calls = %v, want one denied batch then four GetSecretValue", got)
	}
	e.clock.Advance(2 * time.Minute)
	e.mustFetch("scope", c)
	if got := e.calls(); got["secretsmanager:BatchGetSecretValue"] != 0 || got["secretsmanager:GetSecretValue"] != 4 {
		t.Errorf("after the TTL calls = %v, want no batch attempt and four GetSecretValue", got)
	}
}

func TestBatchPartialFailuresNameTheRightObject(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(e *fetchEnv)
		kind    failure.Kind
		want    string
	}{
		{"a secret the role may not read fails with PermissionDenied naming it",
			func(e *fetchEnv) { e.aws.DenySecret(testRole, "s02") }, failure.PermissionDenied, `objects[2] Secrets Manager secret "s02"`},
		{"a deleted secret fails with NotFound naming it",
			func(e *fetchEnv) { e.aws.DeleteSecretNow("us-west-2", "s01") }, failure.NotFound, `objects[1] Secrets Manager secret "s01"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
			c := e.secrets("us-west-2", 4)
			tc.prepare(e)
			_, err := e.fetch("scope", c)
			if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "us-west-2") {
				t.Errorf("err = %v (%v), want %v naming %s and the region", err, failure.KindOf(err), tc.kind, tc.want)
			}
			if strings.Count(err.Error(), "objects[") != 1 {
				t.Errorf("err blames more than one object: %v", err)
			}
		})
	}
}

func TestParametersAreBatchedByTenAndCached(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	c := regional{region: "us-west-2", Class: &class.Class{}}
	for i := range 12 {
		name := fmt.Sprintf("/app/p%02d", i)
		e.aws.PutParameter("us-west-2", name, "SecureString", "value-"+name)
		c.Objects = append(c.Objects, class.Object{Index: i, Name: name, Type: ParameterStore})
	}
	v := e.mustFetch("scope", c)
	if string(v[11].Data) != "value-/app/p11" || v[11].Version != "1" {
		t.Errorf("p11 = %q version %s", v[11].Data, v[11].Version)
	}
	e.mustFetch("scope", c)
	if got := e.calls(); got["ssm:GetParameters"] != 2 || len(got) != 1 {
		t.Errorf("calls = %v, want two GetParameters for twelve names and none for the cached republish", got)
	}
}

func TestFailoverObjectsAreCheckedInTheBackgroundOncePerInterval(t *testing.T) {
	var mu sync.Mutex
	var problems []error
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, FailoverCheckEvery: 10 * time.Minute,
		OnFailoverProblem: func(err error) { mu.Lock(); problems = append(problems, err); mu.Unlock() }})
	e.aws.PutSecretString("us-east-1", "db", "east")
	c := regional{region: "us-east-1", Class: &class.Class{FailoverRegion: "us-west-2", Objects: []class.Object{
		{Index: 0, Name: "db", Type: SecretsManager, Alias: "db", Failover: &class.FailoverObject{Name: "db-replica"}},
	}}}
	v := e.mustFetch("scope", c)
	e.f.Wait()
	if string(v[0].Data) != "east" {
		t.Errorf("value = %q, want the primary's", v[0].Data)
	}
	mu.Lock()
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), `"db-replica" in failover region us-west-2`) {
		t.Errorf("problems = %v, want one naming the failover object", problems)
	}
	mu.Unlock()
	if got := e.aws.CallsIn("us-west-2"); got["secretsmanager:BatchGetSecretValue"]+got["secretsmanager:GetSecretValue"] == 0 {
		t.Errorf("the failover region was not checked: %v", got)
	}
	e.calls()
	e.clock.Advance(2 * time.Minute)
	e.mustFetch("scope", c)
	e.f.Wait()
	if got := e.aws.CallsIn("us-west-2"); len(got) != 0 {
		t.Errorf("the failover region was checked again within the interval: %v", got)
	}
}

func TestFailoverCoversServerFaultsOnly(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	e.aws.PutSecretString("us-east-1", "db", "east")
	_, westV := e.aws.PutSecretString("us-west-2", "db", "west")
	c := regional{region: "us-east-1", Class: &class.Class{FailoverRegion: "us-west-2", Objects: []class.Object{{Index: 0, Name: "db", Type: SecretsManager}}}}
	e.aws.Inject(fakeaws.Fault{Region: "us-east-1", Status: 500})
	v := e.mustFetch("scope", c)
	if string(v[0].Data) != "west" || v[0].Version != westV {
		t.Errorf("value = %q version %s, want the failover region's", v[0].Data, v[0].Version)
	}
	e.aws.ClearFaults()
	e.aws.Inject(fakeaws.Fault{Region: "us-east-1", Status: 400, Code: "AccessDeniedException"})
	_, err := e.fetch("scope2", c)
	if !errors.Is(err, err) || failure.KindOf(err) != failure.PermissionDenied {
		t.Errorf("err = %v, want the primary's denial, not the failover value", err)
	}
}

// TestAnObjectTypeWithoutAServiceIsAnInternalError: every read dispatches
// through the services table, and a type no row reads is a bug, never a
// read from another service.
func TestAnObjectTypeWithoutAServiceIsAnInternalError(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	e.aws.PutSecretString("us-west-2", "db", "v1")
	c := regional{region: "us-west-2", Class: &class.Class{Objects: []class.Object{
		{Index: 0, Name: "db", Type: SecretsManager},
		{Index: 1, Name: "db", Type: "vault"},
	}}}
	_, err := e.fetch("scope", c)
	if failure.KindOf(err) != failure.Internal || !strings.Contains(err.Error(), `objects[1] "db" has objectType "vault"`) {
		t.Errorf("err = %v, want an Internal error naming objects[1] and its type", err)
	}
	if got := e.calls(); len(got) != 0 {
		t.Errorf("calls = %v, want none", got)
	}
}
