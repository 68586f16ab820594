package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

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
			e, err := compileJMESPath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			n := allocated(func() { _, err = e.evaluate(doc, nil) })
			var be *budgetError
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
			e, err := compileJMESPath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			n := allocated(func() { _, err = e.evaluate(tc.doc, nil) })
			var be *budgetError
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
		e, err := compileJMESPath(path)
		if err != nil {
			t.Fatalf("compileJMESPath(%q) = %v", path, err)
		}
		got, err := e.evaluate(doc, nil)
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
// place, and the object's next jmesPath entry reads the same value.
func TestSortByLeavesTheValueAlone(t *testing.T) {
	t.Parallel()
	o := jmesObject("sort_by(users, &name)[0].name", "users[0].name")
	got, err := extractAll(o, []byte(`{"users":[{"name":"zed"},{"name":"amy"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0]) != "amy" || string(got[1]) != "zed" {
		t.Errorf("got %q and %q, want amy then zed (the value's own order)", got[0], got[1])
	}
	// The copy of an empty list is an empty list, not null (found by
	// FuzzJMESPath).
	e, err := compileJMESPath("sort_by(users, &name)")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.evaluate(map[string]any{"users": []any{}}, nil)
	if b, _ := json.Marshal(res); err != nil || string(b) != "[]" {
		t.Errorf("sort_by of an empty list = %s (%v), want []", b, err)
	}
}

func TestExtractJMESPathRefusesADocumentOverItsLimit(t *testing.T) {
	t.Parallel()
	big := []byte(`"` + strings.Repeat("x", maxDocumentBytes) + `"`)
	_, err := extractAll(jmesObject("@"), big)
	if err == nil || !strings.Contains(err.Error(), `objects[0] "db": the value is 1.0 MiB, more than the 1.0 MiB a jmesPath entry may read`) {
		t.Errorf("extractJMESPath over a value past 1 MiB = %v", err)
	}
}

// TestTheMountBudgetIsSharedByEntries: each entry stays within its own
// budget, but a class of many such entries cannot cost one Mount a budget
// each.
func TestTheMountBudgetIsSharedByEntries(t *testing.T) {
	nums := make([]int, 9000)
	value, _ := json.Marshal(map[string]any{"nums": nums})
	for _, tc := range []struct {
		name, path, want string
	}{
		{"function bytes add up across entries", "to_string(length(pad_left('x', `900000`)))",
			"pad_left would take what functions produce past 16.0 MiB, the most the jmesPath entries of one Mount together may have them produce"},
		{"function calls add up across entries", "to_string(length(map(&to_string(@), nums)))",
			"it calls functions more than 100000 times, the most the jmesPath entries of one Mount together may"},
		{"what projections build adds up across entries", "to_string(length([nums, nums, nums, nums][]))",
			"build more than 16.0 MiB, the most the jmesPath entries of one Mount together may"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var objects strings.Builder
			objects.WriteString("- objectName: db\n  objectType: secretsmanager\n  jmesPath:\n")
			for j := range 100 {
				fmt.Fprintf(&objects, "    - {path: %q, objectAlias: f%d}\n", tc.path, j)
			}
			c := mustParse(t, mountAttrs(objects.String()))
			var err error
			n := allocated(func() { _, err = BuildFiles(c, []Value{{Data: value, Version: "v"}}, driverLimit) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("BuildFiles = %v, want an error containing %q", err, tc.want)
			}
			t.Logf("%s: allocated %.1f MiB", tc.name, float64(n)/(1<<20))
		})
	}
}
