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

// listing is a class in region with one listing object.
func listing(region string, t class.ObjectType, l class.Listing) regional {
	return objs(region, class.Object{Name: l.Prefix, Type: t, Listing: &l})
}

// prefixOf is a parsed Secrets Manager listing of prefix with tags
// (key, value, ...), as the parser builds it.
func prefixOf(t *testing.T, prefix string, max int, kv ...string) class.Listing {
	t.Helper()
	tags := ""
	for k := 0; k+1 < len(kv); k += 2 {
		tags += fmt.Sprintf("%q: %q, ", kv[k], kv[k+1])
	}
	obj := fmt.Sprintf("- {objectNamePrefix: %q, objectType: secretsmanager, maxObjects: %d, objectTags: {%s}}", prefix, max, strings.TrimSuffix(tags, ", "))
	c := mustParse(t, mountAttrs(obj))
	return *c.Objects[0].Listing
}

func (e *fetchEnv) putSecrets(region, prefix string, n int, kv ...string) {
	for i := range n {
		name := fmt.Sprintf("%s%02d", prefix, i)
		e.aws.PutSecretString(region, name, "v-"+name)
		if len(kv) > 0 {
			e.aws.TagSecret(region, name, kv...)
		}
	}
}

func TestAListingCostsOneCallPerPageAndIsListedAgainAfterTheTTL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tags  []string
		calls string
	}{
		{"a prefix reads twenty secrets a call", nil, "map[secretsmanager:BatchGetSecretValue:3]"},
		{"a prefix with tags lists once and reads twenty a call", []string{"team", "payments"},
			"map[secretsmanager:BatchGetSecretValue:3 secretsmanager:ListSecrets:1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFetchEnv(t, FetcherOptions{CacheTTL: 2 * time.Minute})
			e.putSecrets("us-west-2", "app/", 45, tc.tags...)
			e.putSecrets("us-west-2", "other/", 5, tc.tags...)
			c := listing("us-west-2", SecretsManager, prefixOf(t, "app/", 100, tc.tags...))
			v := e.mustFetch("irsa/team/app", c)
			if n := len(v[0].Members); n != 45 || v[0].Members[44].Name != "app/44" {
				t.Fatalf("members = %d, want the 45 under app/", n)
			}
			if got := fmt.Sprint(e.calls()); got != tc.calls {
				t.Errorf("first listing: calls %s, want %s", got, tc.calls)
			}
			e.mustFetch("irsa/team/app", c)
			if got := e.calls(); len(got) != 0 {
				t.Errorf("a second listing within the TTL called AWS: %v", got)
			}
			e.clock.Advance(2 * time.Minute)
			e.aws.PutSecretString("us-west-2", "app/new", "n")
			if len(tc.tags) > 0 {
				e.aws.TagSecret("us-west-2", "app/new", tc.tags...)
			}
			if v := e.mustFetch("irsa/team/app", c); len(v[0].Members) != 46 {
				t.Errorf("after the TTL: %d members, want the new secret listed too", len(v[0].Members))
			}
			if got := fmt.Sprint(e.calls()); got != tc.calls {
				t.Errorf("listing after the TTL: calls %s, want %s", got, tc.calls)
			}
		})
	}
}

// TestTwoIdentitiesListingOnePrefixShareNothing: the listing is cached per
// identity, like every value: one identity denied the set is never served
// what another read.
func TestTwoIdentitiesListingOnePrefixShareNothing(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: 2 * time.Minute})
	e.putSecrets("us-west-2", "shared/", 3)
	c := listing("us-west-2", SecretsManager, prefixOf(t, "shared/", 100))
	e.mustFetch("irsa/team/app", c)
	e.calls()
	const other = "arn:aws:iam::123456789012:role/other"
	e.aws.DenySecret(other, "shared/01")
	_, err := e.f.Fetch(t.Context(), FetchRequest{Scope: "irsa/other/app", Credentials: credsFor(e.aws, other, "o"), Mount: &request.Mount{Class: c.Class, Region: c.region}})
	if failure.KindOf(err) != failure.PermissionDenied || !strings.Contains(err.Error(), `objectNamePrefix "shared/"`) {
		t.Errorf("the denied identity's listing = %v, want PermissionDenied naming the prefix", err)
	}
	if got := fmt.Sprint(e.calls()); got != "map[secretsmanager:BatchGetSecretValue:1]" {
		t.Errorf("the second identity's calls = %s, want its own BatchGetSecretValue", got)
	}
}

func TestConcurrentMountsOfOneListingShareOneRead(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: 2 * time.Minute})
	e.putSecrets("us-west-2", "burst/", 30)
	c := listing("us-west-2", SecretsManager, prefixOf(t, "burst/", 100))
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if v, err := e.fetch("irsa/team/app", c); err != nil || len(v[0].Members) != 30 {
				t.Errorf("Fetch = %d members, %v", len(v[0].Members), err)
			}
		})
	}
	wg.Wait()
	if got := fmt.Sprint(e.calls()); got != "map[secretsmanager:BatchGetSecretValue:2]" {
		t.Errorf("40 concurrent Mounts made %s, want one listing of two pages", got)
	}
}

func TestAListingIsBoundedAsItArrives(t *testing.T) {
	t.Run("more matches than maxObjects stop the read", func(t *testing.T) {
		e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
		e.putSecrets("us-west-2", "big/", 60)
		_, err := e.fetch("s", listing("us-west-2", SecretsManager, prefixOf(t, "big/", 10)))
		if failure.KindOf(err) != failure.InvalidArgument || !strings.Contains(err.Error(), `"big/" matches 11 secrets or more, more than its maxObjects 10`) {
			t.Errorf("Fetch = %v", err)
		}
		if got := fmt.Sprint(e.calls()); got != "map[secretsmanager:BatchGetSecretValue:1]" {
			t.Errorf("calls = %s, want the read stopped after the first page", got)
		}
	})
	t.Run("values past the byte bound stop the read", func(t *testing.T) {
		e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, MaxListingBytes: 100 << 10})
		for i := range 20 {
			e.aws.PutSecretString("us-west-2", fmt.Sprintf("fat/%02d", i), strings.Repeat("x", 10<<10))
		}
		_, err := e.fetch("s", listing("us-west-2", SecretsManager, prefixOf(t, "fat/", 100)))
		if failure.KindOf(err) != failure.TooLarge || !strings.Contains(err.Error(), `objectNamePrefix "fat/"`) {
			t.Errorf("Fetch = %v, want TooLarge naming the prefix", err)
		}
	})
	t.Run("neither is covered by a stale value or the failover region", func(t *testing.T) {
		e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, StaleMax: time.Hour})
		e.putSecrets("us-west-2", "grow/", 3)
		e.putSecrets("us-east-1", "grow/", 3)
		c := listing("us-west-2", SecretsManager, prefixOf(t, "grow/", 3))
		c.FailoverRegion = "us-east-1"
		e.mustFetch("s", c)
		e.f.Wait() // the background check of the failover region
		e.calls()
		e.putSecrets("us-west-2", "grow/", 4)
		e.clock.Advance(time.Minute)
		if _, err := e.fetch("s", c); failure.KindOf(err) != failure.InvalidArgument {
			t.Errorf("Fetch = %v, want the bound's error, not the last good set", err)
		}
		if got := e.aws.CallsIn("us-east-1"); len(got) != 0 {
			t.Errorf("the failover region was asked: %v", got)
		}
	})
}

func TestAPathListingReadsTheTreeOrItsTop(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	for _, p := range []string{"/app/a", "/app/b/c", "/app/b/d/e", "/apple/x", "/app"} {
		e.aws.PutParameter("us-west-2", p, "SecureString", "v"+p)
	}
	for _, tc := range []struct {
		path      string
		recursive bool
		want      string
	}{
		{"/app", true, "/app/a /app/b/c /app/b/d/e"},
		{"/app/", true, "/app/a /app/b/c /app/b/d/e"},
		{"/app", false, "/app/a"},
		{"/app/b", false, "/app/b/c"},
	} {
		t.Run(fmt.Sprintf("%s recursive %v", tc.path, tc.recursive), func(t *testing.T) {
			c := mustParse(t, mountAttrs(fmt.Sprintf("- {objectPath: %q, objectType: ssmparameter, recursive: %v}", tc.path, tc.recursive)))
			v, err := e.fetch("s", regional{region: "us-west-2", Class: c})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range v[0].Members {
				got = append(got, m.Name)
				if string(m.Data) != "v"+m.Name || m.Version != "1" {
					t.Errorf("member %s = %q version %s", m.Name, m.Data, m.Version)
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("members = %v, want %s", got, tc.want)
			}
		})
	}
}

// TestAListingFollowsTheStaleRule: through an outage the last set AWS
// confirmed is served within StaleMax, as a value is; a denial is AWS's
// last word and is never covered.
func TestAListingFollowsTheStaleRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakeaws.Fault
		deny  bool
		kind  failure.Kind
	}{
		{name: "a server fault serves the last set", fault: fakeaws.Fault{Service: "secretsmanager", Status: 500}},
		{name: "throttling serves the last set", fault: fakeaws.Fault{Service: "secretsmanager", Status: 429}},
		{name: "a denial fails the Mount", deny: true, kind: failure.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, StaleMax: time.Hour})
			e.putSecrets("us-west-2", "set/", 3)
			c := listing("us-west-2", SecretsManager, prefixOf(t, "set/", 100))
			e.mustFetch("s", c)
			e.clock.Advance(2 * time.Minute)
			if tc.deny {
				e.aws.DenyAction(testRole, "secretsmanager:ListSecrets")
			} else {
				e.aws.Inject(tc.fault)
			}
			v, err := e.fetch("s", c)
			if tc.deny {
				if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), "secretsmanager:ListSecrets") {
					t.Errorf("Fetch = %v, want PermissionDenied saying to allow ListSecrets", err)
				}
				return
			}
			if err != nil || len(v[0].Members) != 3 {
				t.Errorf("Fetch = %v, %v; want the last set", v, err)
			}
		})
	}
}

// TestTheListingsOfAClassShareOneByteBound: four listings of 1.5 MiB each
// are each under the bound, but a class holds no more than one bound of
// listed values while it reads, however many listings it has.
func TestTheListingsOfAClassShareOneByteBound(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, MaxListingBytes: 4 << 20})
	var objects strings.Builder
	for l := range 4 {
		for i := range 3 {
			e.aws.PutSecretString("us-west-2", fmt.Sprintf("l%d/%d", l, i), strings.Repeat("x", 512<<10))
		}
		fmt.Fprintf(&objects, "- {objectNamePrefix: l%d/, objectType: secretsmanager, objectAlias: d%d}\n", l, l)
	}
	c := mustParse(t, mountAttrs(objects.String()))
	_, err := e.fetch("s", regional{region: "us-west-2", Class: c})
	if failure.KindOf(err) != failure.TooLarge || !strings.Contains(err.Error(), "add up to more than 1.0 MiB, its share") {
		t.Errorf("Fetch = %v, want each listing refused past its 1 MiB share", err)
	}
	one := mustParse(t, mountAttrs("- {objectNamePrefix: l0/, objectType: secretsmanager}"))
	if _, err := e.fetch("s", regional{region: "us-west-2", Class: one}); err != nil {
		t.Errorf("one listing of 1.5 MiB alone: %v", err)
	}
}

// TestATagListingLooksAtABoundedNumberOfSecrets: tags are checked here, so
// a broad prefix whose secrets mostly fail the tags would page through
// the account; the read stops at ten secrets looked at per match allowed
// (at least 1000).
func TestATagListingLooksAtABoundedNumberOfSecrets(t *testing.T) {
	e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute})
	e.putSecrets("us-west-2", "wide/", 1100, "team", "search", "owner", "payments")
	e.putSecrets("us-west-2", "wide/ok-", 2, "team", "payments")
	_, err := e.fetch("s", listing("us-west-2", SecretsManager, prefixOf(t, "wide/", 10, "team", "payments")))
	if failure.KindOf(err) != failure.InvalidArgument || !strings.Contains(err.Error(), "looks through more than 1000 secrets") {
		t.Errorf("Fetch = %v, want the scan bound", err)
	}
	if got := e.calls()["secretsmanager:ListSecrets"]; got != 11 {
		t.Errorf("ListSecrets calls = %d, want the read stopped on the 11th page", got)
	}
}
