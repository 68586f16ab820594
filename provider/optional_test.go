package provider

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// objs is a class in region of the objects given.
func objs(region string, os ...class.Object) regional {
	for i := range os {
		os[i].Index = i
		if os[i].FileName == "" {
			os[i].FileName = fmt.Sprintf("f%d", i)
		}
	}
	return regional{region: region, Class: &class.Class{Objects: os}}
}

func TestAnOptionalObjectThatDoesNotExistIsLeftOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  class.Object
	}{
		{"a secret that does not exist", class.Object{Name: "gone", Type: SecretsManager}},
		{"a secret's VersionId that does not exist", class.Object{Name: "db", Type: SecretsManager, Version: "no-such-version"}},
		{"a secret's VersionStage that does not exist", class.Object{Name: "db", Type: SecretsManager, VersionLabel: "NOPE"}},
		{"a parameter that does not exist", class.Object{Name: "/gone", Type: ParameterStore}},
		{"a parameter's version that does not exist", class.Object{Name: "/p", Type: ParameterStore, Version: "9"}},
		{"a parameter's label that does not exist", class.Object{Name: "/p", Type: ParameterStore, VersionLabel: "nope"}},
	} {
		t.Run(tc.name+" is left out and the others are read", func(t *testing.T) {
			obs := &staleCounter{}
			e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, Observer: obs})
			e.aws.PutSecretString("us-west-2", "db", "db-value")
			e.aws.PutParameter("us-west-2", "/p", "String", "p-value")
			o := tc.obj
			o.Optional = true
			v, err := e.fetch("scope", objs("us-west-2", o, class.Object{Name: "db", Type: SecretsManager}))
			if err != nil {
				t.Fatalf("Fetch = %v, want the optional object left out", err)
			}
			if !v[0].Missing || v[0].Data != nil || string(v[1].Data) != "db-value" || v[1].Missing {
				t.Errorf("values = %+v, want the first missing and the second read", v)
			}
			if obs.missingCount() != 1 {
				t.Errorf("optional objects counted missing = %d, want 1", obs.missingCount())
			}
		})
		t.Run(tc.name+" still fails a plain object", func(t *testing.T) {
			e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
			e.aws.PutSecretString("us-west-2", "db", "db-value")
			e.aws.PutParameter("us-west-2", "/p", "String", "p-value")
			_, err := e.fetch("scope", objs("us-west-2", tc.obj))
			if failure.KindOf(err) != failure.NotFound || !strings.Contains(err.Error(), "objects[0]") {
				t.Errorf("Fetch = %v, want NotFound naming objects[0]", err)
			}
		})
	}
}

func TestEveryOtherFailureOfAnOptionalObjectFailsTheFetch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakeaws.Fault
		deny  bool
		kind  failure.Kind
	}{
		{name: "an access denial", deny: true, kind: failure.PermissionDenied},
		{name: "a KMS decryption failure", fault: fakeaws.Fault{Code: "DecryptionFailure", Message: "KMS said no"}, kind: failure.PermissionDenied},
		{name: "a KMS key access denial", fault: fakeaws.Fault{Code: "KMSAccessDeniedException"}, kind: failure.PermissionDenied},
		{name: "throttling after retries", fault: fakeaws.Fault{Status: 429}, kind: failure.Throttled},
		{name: "a server fault", fault: fakeaws.Fault{Status: 500}, kind: failure.Unavailable},
		{name: "an invalid request (a secret scheduled for deletion)", fault: fakeaws.Fault{Code: "InvalidRequestException"}, kind: failure.InvalidArgument},
		{name: "a timeout", fault: fakeaws.Fault{Delay: time.Second}, kind: failure.Timeout},
	} {
		t.Run(tc.name+" fails an optional object as any other", func(t *testing.T) {
			e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, CallTimeout: 200 * time.Millisecond})
			e.aws.PutSecretString("us-west-2", "db", "x")
			if tc.deny {
				e.aws.DenySecret(testRole, "db")
			} else {
				e.aws.Inject(tc.fault)
			}
			_, err := e.fetch("scope", objs("us-west-2", class.Object{Name: "db", Type: SecretsManager, Optional: true}))
			if err == nil || failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), `objects[0] Secrets Manager secret "db"`) {
				t.Errorf("Fetch = %v (kind %v), want %v naming the object", err, failure.KindOf(err), tc.kind)
			}
		})
	}
}

// TestAnOptionalObjectsAbsenceIsCachedLikeAValue: one read per identity
// per TTL, the republish rule, and a plain object never served an
// absence.
func TestAnOptionalObjectsAbsenceIsCachedLikeAValue(t *testing.T) {
	ttl := 2 * time.Minute
	e := newFetchEnv(t, FetcherOptions{CacheTTL: ttl})
	e.aws.PutSecretString("us-west-2", "db", "db-value")
	c := objs("us-west-2",
		class.Object{Name: "later", Type: SecretsManager, Optional: true},
		class.Object{Name: "/later", Type: ParameterStore, Optional: true},
		class.Object{Name: "db", Type: SecretsManager})
	fetch := func() []Value { return e.mustFetch("irsa/team/app", c) }

	t.Run("the first fetch makes one call per service", func(t *testing.T) {
		v := fetch()
		if !v[0].Missing || !v[1].Missing || string(v[2].Data) != "db-value" {
			t.Errorf("values = %+v", v)
		}
		if got := e.calls(); fmt.Sprint(got) != "map[secretsmanager:BatchGetSecretValue:1 ssm:GetParameters:1]" {
			t.Errorf("calls = %v, want one batch per service", got)
		}
	})
	t.Run("fetches within the TTL make no call", func(t *testing.T) {
		for range 5 {
			e.clock.Advance(10 * time.Second)
			if v := fetch(); !v[0].Missing || !v[1].Missing {
				t.Errorf("values = %+v", v)
			}
		}
		if got := e.calls(); len(got) != 0 {
			t.Errorf("calls = %v, want none", got)
		}
	})
	t.Run("a plain object is never served the cached absence", func(t *testing.T) {
		_, err := e.fetch("irsa/team/app", objs("us-west-2", class.Object{Name: "later", Type: SecretsManager}))
		if failure.KindOf(err) != failure.NotFound {
			t.Errorf("err = %v, want NotFound from AWS", err)
		}
		if got := e.calls(); got["secretsmanager:BatchGetSecretValue"]+got["secretsmanager:GetSecretValue"] != 1 {
			t.Errorf("calls = %v, want the plain object's own read", got)
		}
	})
	e.aws.PutSecretString("us-west-2", "later", "arrived")
	e.aws.PutParameter("us-west-2", "/later", "String", "arrived-too")
	t.Run("within the TTL the absence stands for a pod's first Mount", func(t *testing.T) {
		if v := fetch(); !v[0].Missing {
			t.Errorf("values = %+v, want still missing within the TTL", v)
		}
		e.calls()
	})
	t.Run("a republish takes no absence confirmed before its previous Mount", func(t *testing.T) {
		e.clock.Advance(time.Second)
		v, err := e.f.Fetch(t.Context(), FetchRequest{Scope: "irsa/team/app", Credentials: e.creds,
			Mount: &request.Mount{Class: c.Class, Region: c.region}, NotBefore: e.clock.Now()})
		if err != nil || string(v[0].Data) != "arrived" || string(v[1].Data) != "arrived-too" {
			t.Fatalf("values = %+v, %v; want both objects read now that they exist", v, err)
		}
		if got := e.calls(); fmt.Sprint(got) != "map[secretsmanager:BatchGetSecretValue:1 ssm:GetParameters:1]" {
			t.Errorf("calls = %v, want one batch per service", got)
		}
	})
	t.Run("after the TTL one batch per service reads them again", func(t *testing.T) {
		e.clock.Advance(ttl)
		if v := fetch(); string(v[0].Data) != "arrived" {
			t.Errorf("values = %+v", v)
		}
		if got := e.calls(); fmt.Sprint(got) != "map[secretsmanager:BatchGetSecretValue:1 ssm:GetParameters:1]" {
			t.Errorf("calls = %v, want one batch per service", got)
		}
	})
}

func TestABurstOfFiftyPodsShareOneReadOfAMissingOptionalObject(t *testing.T) {
	obs := &staleCounter{}
	e := newFetchEnv(t, FetcherOptions{CacheTTL: 2 * time.Minute, Observer: obs})
	c := objs("us-west-2", class.Object{Name: "later", Type: SecretsManager, Optional: true})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			v, err := e.fetch("irsa/team/app", c)
			if err == nil && !v[0].Missing {
				err = fmt.Errorf("value = %+v, want missing", v[0])
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.calls(); fmt.Sprint(got) != "map[secretsmanager:BatchGetSecretValue:1]" {
		t.Errorf("calls for a burst of 50 = %v, want one BatchGetSecretValue", got)
	}
	if obs.missingCount() != 50 {
		t.Errorf("optional objects counted missing = %d, want one per Fetch (50)", obs.missingCount())
	}
}

func TestWithTheCacheOffAnOptionalObjectIsReadEveryFetch(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: 0})
	c := objs("us-west-2", class.Object{Name: "later", Type: SecretsManager, Optional: true})
	for range 3 {
		if v := e.mustFetch("scope", c); !v[0].Missing {
			t.Errorf("value = %+v", v[0])
		}
	}
	if got := e.calls(); got["secretsmanager:BatchGetSecretValue"] != 3 {
		t.Errorf("calls = %v, want a read per fetch", got)
	}
}

func TestAnOptionalObjectAndTheFailoverRegion(t *testing.T) {
	fo := func(name string) regional {
		c := objs("us-east-1", class.Object{Name: name, Type: SecretsManager, Optional: true})
		c.FailoverRegion = "us-west-2"
		return c
	}
	t.Run("missing in the primary it is left out without asking the failover region", func(t *testing.T) {
		e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
		e.aws.PutSecretString("us-west-2", "only-west", "west")
		v := e.mustFetch("scope", fo("only-west"))
		e.f.Wait() // the background check of the failover objects
		if !v[0].Missing {
			t.Errorf("value = %+v, want left out: a NotFound is a client fault", v[0])
		}
		if got := e.aws.CallsIn("us-west-2"); got["secretsmanager:BatchGetSecretValue"]+got["secretsmanager:GetSecretValue"] > 1 {
			t.Errorf("failover region calls = %v, want at most the background check", got)
		}
	})
	t.Run("when the primary cannot answer, the failover region's NotFound leaves it out", func(t *testing.T) {
		obs := &staleCounter{}
		e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, Observer: obs})
		e.aws.Inject(fakeaws.Fault{Region: "us-east-1", Status: 500})
		v := e.mustFetch("scope", fo("nowhere"))
		if !v[0].Missing || obs.missingCount() != 1 {
			t.Errorf("value = %+v, missing counted %d; want left out on the failover region's word", v[0], obs.missingCount())
		}
	})
}

func TestAStaleAbsenceIsServedOnlyToAnOptionalObject(t *testing.T) {
	obs := &staleCounter{}
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, StaleMax: 15 * time.Minute, Observer: obs})
	opt := objs("us-west-2", class.Object{Name: "later", Type: SecretsManager, Optional: true})
	e.mustFetch("scope", opt)
	e.clock.Advance(2 * time.Minute)
	e.aws.Inject(fakeaws.Fault{Status: 500})
	if v, err := e.fetch("scope", opt); err != nil || !v[0].Missing {
		t.Errorf("optional object while AWS is down = %+v, %v; want still left out", v, err)
	}
	if obs.count() != 1 {
		t.Errorf("stale values counted = %d, want 1", obs.count())
	}
	plain := objs("us-west-2", class.Object{Name: "later", Type: SecretsManager})
	if _, err := e.fetch("scope", plain); failure.KindOf(err) != failure.Unavailable {
		t.Errorf("plain object while AWS is down = %v, want the outage, never the absence", err)
	}
}

// TestOptionalPinnedVersionsKeepTheBatchedConfirmation: an optional object
// pinned to a VersionId that exists is confirmed after the TTL by the
// batched read of its secret, as any pinned object; one whose VersionId
// does not exist is asked again once per TTL; one whose secret is deleted
// is left out.
func TestOptionalPinnedVersionsKeepTheBatchedConfirmation(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	_, v1 := e.aws.PutSecretString("us-west-2", "db", "one")
	e.aws.PutSecretString("us-west-2", "db", "two")
	c := objs("us-west-2",
		class.Object{Name: "db", Type: SecretsManager, Version: v1, Optional: true},
		class.Object{Name: "db", Type: SecretsManager, Version: "no-such-version", Optional: true})
	if v := e.mustFetch("scope", c); string(v[0].Data) != "one" || !v[1].Missing {
		t.Fatalf("values = %+v", v)
	}
	e.calls()
	for round := range 3 {
		e.clock.Advance(2 * time.Minute)
		if v := e.mustFetch("scope", c); string(v[0].Data) != "one" || !v[1].Missing {
			t.Fatalf("round %d: values = %+v", round, v)
		}
		if got := fmt.Sprint(e.calls()); got != "map[secretsmanager:BatchGetSecretValue:1 secretsmanager:GetSecretValue:1]" {
			t.Errorf("round %d: calls = %s, want the batched confirmation of the pinned version and one read of the missing one", round, got)
		}
	}
	e.aws.DeleteSecretNow("us-west-2", "db")
	e.clock.Advance(2 * time.Minute)
	if v := e.mustFetch("scope", c); !v[0].Missing || !v[1].Missing {
		t.Errorf("after the secret was deleted: values = %+v, want both left out", v)
	}
}
