package jmes

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/jmespath-community/go-jmespath/pkg/api"
)

// budgetDoc is a value like a real secret's: a 1 KiB field, a list of a
// few thousand strings and one of 20,000 numbers.
func budgetDoc(t testing.TB) any {
	t.Helper()
	words := make([]string, 3000)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	nums := make([]int, 20_000)
	raw, err := json.Marshal(map[string]any{"f": strings.Repeat("a", 1024), "words": words, "nums": nums, "user": "admin"})
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestTheBudgetStopsFunctionsBeforeTheyProduce(t *testing.T) {
	doc := budgetDoc(t)
	g := strings.Repeat("g", 900)
	for _, tc := range []struct {
		name, path, fn string
	}{
		{"pad_left to 200 MB stops before padding", "pad_left('x', `200000000`)", "pad_left"},
		{"pad_right of a field to 2 MB stops before padding", "pad_right(f, `2000000`)", "pad_right"},
		{"five nested replace of a 1 KiB field stop", "replace(replace(replace(replace(replace(f, 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')", "replace"},
		{"join with a long glue stops", "join('" + g + "', words)", "join"},
		{"to_string of many copies stops", "to_string([" + strings.TrimSuffix(strings.Repeat("words,", 60), ",") + "])", "to_string"},
		{"split into every character of a padded string stops", "split(pad_left(f, `300000`), '')", "split"},
		{"zip of many copies stops", "zip(nums, nums, nums, nums, nums, nums, nums, nums)", "zip"},
		{"more than 10,000 calls stop", "map(&to_string(@), nums)", "more than 10000 times"},
		{"lower of a padded string past the budget stops", "lower(pad_left(f, `900000`))", "lower"},
		{"a budget error inside a filter is not lost", "words[?pad_left(@, `2000000`) == 'x']", "pad_left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			n := testkit.Allocated(func() { _, err = e.Evaluate(doc, nil) })
			var be *BudgetError
			if !errors.As(err, &be) || !strings.Contains(be.Error(), tc.fn) {
				t.Fatalf("evaluate = %v, want a budget error naming %s", err, tc.fn)
			}
			if n > 8<<20 {
				t.Errorf("the refused evaluation allocated %d bytes, want under 8 MiB", n)
			}
			t.Logf("%s: %v (allocated %d bytes)", tc.name, err, n)
		})
	}
}

// TestTheBudgetCountsWhatProjectionsBuild: the fan-out bound is relative
// to the input, and the input can be a large value, a literal or a
// function's output; what multi-selects, projections and flattens build is
// counted as they build it.
func TestTheBudgetCountsWhatProjectionsBuild(t *testing.T) {
	nums := make([]any, 32<<10) // a 64 KiB secret of zeros: AWS's largest
	for i := range nums {
		nums[i] = 0.0
	}
	lit := "`[" + strings.TrimSuffix(strings.Repeat("0,", 120), ",") + "]`"
	for _, tc := range []struct {
		name, path string
		doc        any
	}{
		{"six doublings of a 64 KiB list stop", "[].[@,@][].[@,@][].[@,@][].[@,@][].[@,@][].[@,@]", nums},
		{"64 projections of a 64 KiB list stop", "[" + strings.TrimSuffix(strings.Repeat("@[*],", 64), ",") + "]", nums},
		{"projections over literals multiply and stop", lit + "[*].[" + lit + "[*].[" + lit + "]]", nil},
		{"projections over a function's output stop", "split(pad_left('x', `15000`), '')[*].[@,@,@,@,@,@,@,@,@,@,@,@,@,@,@,@]", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			n := testkit.Allocated(func() { _, err = e.Evaluate(tc.doc, nil) })
			var be *BudgetError
			if !errors.As(err, &be) || !strings.Contains(be.Error(), "build more than 4.0 MiB") {
				t.Fatalf("evaluate = %v, want the budget error for what was built", err)
			}
			if n > 32<<20 {
				t.Errorf("the refused evaluation allocated %d bytes, want under 32 MiB", n)
			}
			t.Logf("%s: allocated %.1f MiB", tc.name, float64(n)/(1<<20))
		})
	}
}

// TestTheBudgetLeavesOrdinaryExpressionsAlone compares the budgeted
// evaluation with the library's own over expressions real classes use.
func TestTheBudgetLeavesOrdinaryExpressionsAlone(t *testing.T) {
	t.Parallel()
	var doc any
	if err := json.Unmarshal([]byte(dbJSON), &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"username", "join(',', hosts)", "to_string(port)", "pad_left(username, `10`, '*')", "replace(password, 'a', 'A')",
		"split(join(',', hosts), ',')", "upper(username)", "to_string(@)", "items(opts)", "zip(hosts, hosts)", "reverse(username)",
		"sort_by(hosts, &@)", "map(&upper(@), hosts)", "length(to_string(@))", "keys(@)",
		"username[::-1]", "hosts[::-1]", "hosts[*]", "hosts[]", "*", "[username, port]", "{u: username, h: hosts[0]}",
		"hosts[?@ == 'b'] | [0]", "[hosts, hosts][]", "opts.*", "[[hosts]][][]",
	} {
		e, err := Compile(path)
		if err != nil {
			t.Fatalf("Compile(%q) = %v", path, err)
		}
		got, err := e.Evaluate(doc, nil)
		if err != nil {
			t.Errorf("evaluate(%q) = %v", path, err)
			continue
		}
		want, err := api.Search(path, doc)
		if err != nil || !reflect.DeepEqual(normalise(got), normalise(want)) {
			t.Errorf("evaluate(%q) = %v, the library says %v (%v)", path, got, want, err)
		}
	}
}

// normalise sorts what items and keys return in map order.
func normalise(v any) string {
	b, _ := json.Marshal(v)
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = normalise(e)
		}
		sortStrings(parts)
		return strings.Join(parts, ",")
	}
	return string(b)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestOutputBoundIsAnUpperBound runs each capped function on varied
// arguments and checks its precheck never promised less than it produced.
func TestOutputBoundIsAnUpperBound(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		alphabet := []string{"a", "b", "<", "\"", "é", "\u2028", "\x00", "ab", "ſ", "ȿ"}
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	list := func() []any {
		l := make([]any, r.IntN(6))
		for i := range l {
			l[i] = str()
		}
		return l
	}
	num := func() float64 { return float64(r.IntN(60)) }
	cut := func(n int) string { // a short prefix, possibly half a rune
		s := str()
		return s[:min(n, len(s))]
	}
	for range 2000 {
		for _, c := range []struct {
			name string
			args []any
		}{
			{"pad_left", []any{str(), num(), "x"}},
			{"pad_right", []any{str(), num()}},
			{"replace", []any{str(), cut(r.IntN(3)), str()}},
			{"replace", []any{str(), "a", str(), num()}},
			{"join", []any{str(), list()}},
			{"to_string", []any{map[string]any{str(): list(), "n": num(), "b": true, "z": nil}}},
			{"split", []any{str(), cut(r.IntN(2))}},
			{"split", []any{str(), "a", num()}},
			{"zip", []any{list(), list(), list()}},
			{"items", []any{map[string]any{str(): str(), str(): list()}}},
			{"lower", []any{str()}},
			{"upper", []any{str()}},
			{"reverse", []any{str()}},
		} {
			res, err := jmesCaller.CallFunction(c.name, c.args)
			if err != nil {
				continue
			}
			bound := outputBound(c.name, c.args, maxEvalBytes)
			size := valueSize(res, maxEvalBytes)
			switch c.name {
			case "zip", "items":
				size = shapeSize(res) // they share their arguments' values
			case "split":
				size -= len(c.args[0].(string)) // the pieces share the string's bytes
			}
			if size > bound {
				t.Fatalf("%s(%q) produced %d bytes, more than its bound %d", c.name, c.args, size, bound)
			}
			if c.name == "to_string" {
				if s := res.(string); len(s) > jsonSize(c.args[0], maxEvalBytes) {
					t.Fatalf("to_string(%q) is %d bytes, more than jsonSize %d", c.args, len(s), jsonSize(c.args[0], maxEvalBytes))
				}
			}
		}
	}
}

// shapeSize is what zip and items allocate: their list of rows, each row a
// list of slots holding the arguments' own values.
func shapeSize(v any) int {
	n := slotBytes + sliceBytes
	for _, row := range v.([]any) {
		n += slotBytes + sliceBytes + slotBytes*len(row.([]any))
	}
	return n
}

func TestValueSizeStopsCountingPastItsLimit(t *testing.T) {
	t.Parallel()
	inner := make([]any, 1000)
	for i := range inner {
		inner[i] = strings.Repeat("x", 1000)
	}
	outer := make([]any, 1000) // a billion bytes if walked in full
	for i := range outer {
		outer[i] = inner
	}
	if n := valueSize(outer, 1<<20); n <= 1<<20 || n > 2<<20 {
		t.Errorf("valueSize of a shared 1 GB value with limit 1 MiB = %d, want just over 1 MiB", n)
	}
	if n := jsonSize(outer, 1<<20); n <= 1<<20 || n > 2<<20 {
		t.Errorf("jsonSize of a shared 1 GB value with limit 1 MiB = %d, want just over 1 MiB", n)
	}
}

// TestSortByLeavesTheValueAlone: the library sorts sort_by's argument in
// place, and an object's next jmesPath entry is evaluated over the same
// value.
func TestSortByLeavesTheValueAlone(t *testing.T) {
	t.Parallel()
	var doc any
	if err := json.Unmarshal([]byte(`{"users":[{"name":"zed"},{"name":"amy"}]}`), &doc); err != nil {
		t.Fatal(err)
	}
	var got []any
	for _, path := range []string{"sort_by(users, &name)[0].name", "users[0].name"} {
		e, err := Compile(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Evaluate(doc, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res)
	}
	if got[0] != "amy" || got[1] != "zed" {
		t.Errorf("got %q and %q, want amy then zed (the value's own order)", got[0], got[1])
	}
	// The copy of an empty list is an empty list, not null (found by
	// FuzzJMESPath).
	e, err := Compile("sort_by(users, &name)")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Evaluate(map[string]any{"users": []any{}}, nil)
	if b, _ := json.Marshal(res); err != nil || string(b) != "[]" {
		t.Errorf("sort_by of an empty list = %s (%v), want []", b, err)
	}
}

func TestLibraryPanicsBecomeErrors(t *testing.T) {
	t.Parallel()
	// find_first slices its subject from start to end without checking
	// that start <= end: the library panics.
	e, err := Compile("find_first('abc', 'b', `5`)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Evaluate(nil, nil); err != ErrEvaluation {
		t.Errorf("evaluating an expression that panics in the library = %v, want ErrEvaluation", err)
	}
}
