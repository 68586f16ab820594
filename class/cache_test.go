package class

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestClassCacheReturnsOneParseToEveryPod(t *testing.T) {
	cc := testCache(t, 4)
	params := map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n", "csi.storage.k8s.io/pod.name": "a"}
	a, err := cc.Parse(params, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	params["csi.storage.k8s.io/pod.name"] = "b" // per-pod keys do not change the class
	b, err := cc.Parse(params, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the second pod's class was parsed again")
	}
	if err := a.CheckRegion("us-east-1"); err != nil {
		t.Fatal(err)
	}
	if b.Region != "" {
		t.Errorf("checking the region of one pod's class changed it: %q", b.Region)
	}
	c, err := cc.Parse(params, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if c.Objects[0].Mode != 0o600 {
		t.Errorf("another default mode reused a parse with mode %o", c.Objects[0].Mode)
	}
	params["objects"] = "- {objectName: db, objectType: vault}\n"
	if _, err := cc.Parse(params, 0o644); err == nil {
		t.Error("a bad class was accepted from the cache")
	}
}

// testService stands for a service in the cache's tests, which parse but
// never read (package class's parsing tests use the daemon's services): a
// class of objectType secretsmanager parses, one of objectType vault fails.
type testService struct{}

func (testService) ObjectType() ObjectType { return "secretsmanager" }
func (testService) ARN() ARNForm {
	return ARNForm{Service: "secretsmanager", Resource: "secret:", Title: "Secrets Manager", Names: "a secret"}
}
func (testService) Versions() VersionRules { return VersionRules{} }
func (testService) Noun() string           { return "Secrets Manager secret" }
func (testService) List() ListForm         { return ListForm{Field: "objectNamePrefix"} }

// testMode stands for an auth mode: one that reads no parameter, the
// default, and one chosen by its parameter set to "true".
type testMode struct {
	name  AuthMode
	param string
}

func (m testMode) Name() AuthMode { return m.name }
func (m testMode) Params() []Param {
	if m.param == "" {
		return nil
	}
	return []Param{{Name: m.param, Max: MaxOptionLength, Hint: `use "true" or "false"`}}
}
func (m testMode) Chosen(value func(string) string) (bool, error) {
	return m.param != "" && value(m.param) == "true", nil
}

var testCatalog = Catalog{
	Services: []Service{testService{}},
	Modes:    []Mode{testMode{name: "plain"}, testMode{name: "chosen", param: "useChosen"}},
}

func testCache(t *testing.T, size int) *Cache {
	t.Helper()
	cc, err := NewCache(size, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// countingCache is a Cache whose parses are counted.
func countingCache(t *testing.T, size int) (*Cache, *int) {
	cc := testCache(t, size)
	parse, n := cc.parse, 0
	cc.parse = func(v classValues, mode int32) (*Class, error) {
		n++
		return parse(v, mode)
	}
	return cc, &n
}

func TestClassCacheRemembersFailures(t *testing.T) {
	cc, parses := countingCache(t, 4)
	broken := map[string]string{"objects": "- {objectName: db, objectType: vault}\n"}
	_, first := cc.Parse(broken, 0o644)
	_, second := cc.Parse(broken, 0o644)
	if first == nil || second == nil || first.Error() != second.Error() {
		t.Fatalf("Parse of a broken class = %v, then %v; want the same error twice", first, second)
	}
	if *parses != 1 {
		t.Errorf("two Parses of one broken class parsed it %d times, want once", *parses)
	}
}

func TestClassCacheKeyCoversEveryParameterItReads(t *testing.T) {
	params := testCache(t, 4).params
	base := map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n"}
	baseKey := params.read(base).key(0o644)
	for _, name := range []string{"objects", "region", "failoverRegion", "pathTranslation", "preferredAddressType", "useChosen"} {
		if params.read(maps(base, name, "x")).key(0o644) == baseKey {
			t.Errorf("changing %s does not change the key", name)
		}
	}
	v := params.read(base)
	if v.key(0o600) == baseKey {
		t.Error("changing the driver's default mode does not change the key")
	}
	for _, k := range []string{"csi.storage.k8s.io/pod.name", "secretProviderClass", "someFutureParameter"} {
		v := params.read(maps(base, k, "x"))
		if v.key(0o644) != baseKey {
			t.Errorf("the parser does not read %s, but it changes the key", k)
		}
	}
	// Length prefixes keep one value from running into the next.
	a := params.read(map[string]string{"objects": "ab", "region": "c"})
	b := params.read(map[string]string{"objects": "a", "region": "bc"})
	if a.key(0) == b.key(0) {
		t.Error("values that concatenate alike share a key")
	}
}

func maps(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range m {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}

func TestClassCacheIsBoundedByBytes(t *testing.T) {
	cc, parses := countingCache(t, 512)
	cc.maxBytes = 64 << 10
	class := func(i int) map[string]string {
		return map[string]string{"objects": fmt.Sprintf("- {objectName: %s, objectType: secretsmanager, objectAlias: a}\n", strings.Repeat("n", 1000)+fmt.Sprint(i))}
	}
	for i := range 200 {
		if _, err := cc.Parse(class(i), 0o644); err != nil {
			t.Fatal(err)
		}
		if cc.bytes > cc.maxBytes {
			t.Fatalf("after %d classes the cache holds an estimated %d bytes, more than its %d", i+1, cc.bytes, cc.maxBytes)
		}
	}
	if n := cc.lru.Len(); n >= 200 || n == 0 {
		t.Errorf("the cache keeps %d of 200 classes of about 2 KiB within 64 KiB", n)
	}
	total := 0
	for _, k := range cc.lru.Keys() {
		e, _ := cc.lru.Peek(k)
		total += e.size
	}
	if total != cc.bytes {
		t.Errorf("entries add up to %d bytes but the cache counts %d", total, cc.bytes)
	}
	*parses = 0
	if _, err := cc.Parse(class(199), 0o644); err != nil || *parses != 0 {
		t.Errorf("the most recent class was parsed again (%d parses, %v)", *parses, err)
	}
	if _, err := cc.Parse(class(0), 0o644); err != nil || *parses != 1 {
		t.Errorf("the oldest class was not evicted (%d parses, %v)", *parses, err)
	}
}

func TestClassCacheDoesNotKeepAnEntryLargerThanItsBound(t *testing.T) {
	cc, parses := countingCache(t, 4)
	cc.maxBytes = 1 << 10
	params := map[string]string{"objects": fmt.Sprintf("- {objectName: %s, objectType: secretsmanager, objectAlias: a}\n", strings.Repeat("n", 2000))}
	for range 2 {
		if _, err := cc.Parse(params, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if *parses != 2 || cc.lru.Len() != 0 || cc.bytes != 0 {
		t.Errorf("a 2 KB class with a 1 KiB bound: %d parses, %d entries, %d bytes; want 2, 0, 0", *parses, cc.lru.Len(), cc.bytes)
	}
}

func TestClassCacheSizeCountsCompiledExpressions(t *testing.T) {
	t.Parallel()
	path := strings.TrimSuffix(strings.Repeat("a || ", 200), " || ")
	c, err := Parse(map[string]string{"objects": "- objectName: db\n  objectType: secretsmanager\n  jmesPath:\n    - path: " + path + "\n      objectAlias: x\n"}, 0o644, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.size(); s < 20*len(path) {
		t.Errorf("a class with a %d-byte path is estimated at %d bytes; its parsed tree holds more", len(path), s)
	}
}

func TestConcurrentMountsOfANewClassShareOneParse(t *testing.T) {
	cc, _ := countingCache(t, 4)
	parse := cc.parse
	var mu sync.Mutex
	parses := 0
	cc.parse = func(v classValues, mode int32) (*Class, error) {
		mu.Lock()
		parses++
		mu.Unlock()
		time.Sleep(50 * time.Millisecond) // long enough for every Mount to arrive
		return parse(v, mode)
	}
	params := map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n"}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := cc.Parse(params, 0o644); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if parses != 1 {
		t.Errorf("20 concurrent Mounts of one new class parsed it %d times, want once", parses)
	}
}

// TestTheCacheBoundsWorkInProgress: a parse, or an object's jmesPath
// evaluation for a class the cache returned, waits while every slot is
// taken. (provider's TestBuildFilesWaitsForAnEvaluationSlot checks that
// BuildFiles takes one.)
func TestTheCacheBoundsWorkInProgress(t *testing.T) {
	cc := testCache(t, 4)
	cc.work = make(chan struct{}, 1)
	params := map[string]string{"objects": "- {objectName: db, objectType: secretsmanager, jmesPath: [{path: username, objectAlias: u}]}\n"}
	c, err := cc.Parse(params, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		work func() error
	}{
		{"a parse waits for a slot", func() error {
			_, err := cc.Parse(map[string]string{"objects": "- {objectName: other, objectType: secretsmanager}\n"}, 0o644)
			return err
		}},
		{"an evaluation waits for a slot", func() error {
			c.EvaluationSlot()()
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc.work <- struct{}{} // every slot taken
			done := make(chan error, 1)
			go func() { done <- tc.work() }()
			select {
			case err := <-done:
				t.Fatalf("the work ran with every slot taken (%v)", err)
			case <-time.After(100 * time.Millisecond):
			}
			<-cc.work
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestACatalogThatCannotNameEachServiceIsRefused(t *testing.T) {
	t.Parallel()
	for name, catalog := range map[string]Catalog{
		"no services":       {},
		"one service twice": {Services: []Service{testService{}, testService{}}},
	} {
		if _, err := NewCache(4, catalog); err == nil || failure.KindOf(err) != failure.Internal {
			t.Errorf("%s: NewCache = %v, want an Internal error", name, err)
		}
		if _, err := Parse(map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n"}, 0o644, catalog); err == nil || failure.KindOf(err) != failure.Internal {
			t.Errorf("%s: Parse = %v, want an Internal error", name, err)
		}
	}
}
