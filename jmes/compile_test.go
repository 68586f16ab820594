package jmes

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

func TestExprDepthCountsNestingOutsideQuotes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"a plain field has no depth", "a.b", 0},
		{"one pair of brackets is one level", "a[0]", 1},
		{"brackets, parentheses and braces add up", "a[?(b || {c: d}.c)]", 3},
		{"closed levels do not add up", "[a][b][c](d){e: f}", 1},
		{"a run of ! counts each one", "!!!a", 3},
		{"whitespace does not break a run", "! ! !a", 3},
		{"a run of unary minus counts each one", "- - -a", 3},
		{"the library's other minus counts too", "\u2212\u2212a", 2},
		{"a run of expression references counts each one", "sort_by(@, & & a)", 3},
		{"!= is a comparison, not a prefix", "a != b", 0},
		{"&& is a conjunction, not a prefix", "a && b", 0},
		{"a run sits on top of the brackets", "[!!a]", 3},
		{"brackets in a quoted identifier are skipped", `"[[[["`, 0},
		{"brackets in a raw string are skipped", `'((((' `, 0},
		{"brackets in a JSON literal are skipped", "`[[[[1]]]]`", 0},
		{"an escaped quote does not end a raw string", `'\'((((' `, 0},
		{"an escaped backtick does not end a JSON literal", "`\"\\`[[[[\"`", 0},
		{"an escaped double quote does not end a quoted identifier", `"\"[[" `, 0},
		{"an escaped backslash ends before the quote", `'\\'((`, 2},
		{"an unclosed quote hides the rest", `a['((((`, 1},
		{"unbalanced closers never go below zero", ")))[", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exprDepth(tc.path); got != tc.want {
				t.Errorf("exprDepth(%q) = %d, want %d", tc.path, got, tc.want)
			}
		})
	}
}

func TestCompileJMESPathRefusesWhatItCannotBound(t *testing.T) {
	t.Parallel()
	doubling := func(n int) string { return strings.TrimSuffix(strings.Repeat("[@,@][].", n), "[].") }
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"a path over 1024 bytes is refused without quoting it", strings.Repeat("a.", 600) + "a",
			[]string{"path is 1201 bytes long, more than the 1024 allowed", "split"}},
		{"300,000 nested parentheses are refused by length before parsing", strings.Repeat("(", 300_000) + "a" + strings.Repeat(")", 300_000),
			[]string{"path is 600001 bytes long"}},
		{"33 nested parentheses are refused", strings.Repeat("(", 33) + "a" + strings.Repeat(")", 33),
			[]string{"nests brackets, parentheses, braces or prefix operators (!, -, &) 33 deep, more than the 32 allowed"}},
		{"33 nested brackets are refused", strings.Repeat("[", 33) + "a" + strings.Repeat("]", 33),
			[]string{"33 deep, more than the 32 allowed"}},
		{"a run of 40 ! is refused", strings.Repeat("!", 40) + "a", []string{"40 deep"}},
		{"a let expression is refused, naming it", "let $x = a in $x", []string{`path "let $x = a in $x" uses a let expression`}},
		{"an assignment is refused", "a = b", []string{"uses a let expression or an assignment (=)"}},
		{"a variable is refused, naming it", "$secret", []string{"uses the variable $secret"}},
		{"the root reference is refused", "a[?b == $.c]", []string{"uses the root reference $"}},
		{"an unknown function is refused, naming it", "nope(@)", []string{`path "nope(@)" calls a function JMESPath does not have (unknown function: nope)`}},
		{"an unknown function behind a null is refused too", "missing.nope(@)", []string{"unknown function: nope"}},
		{"too few arguments are refused", "join(',')", []string{"calls join with 1 argument, but join takes 2"}},
		{"too many arguments are refused", "abs(a, b)", []string{"calls abs with 2 arguments, but abs takes 1"}},
		{"a range of argument counts is named", "pad_left(a)", []string{"pad_left takes 2 to 3"}},
		{"a variadic function names its minimum", "merge()", []string{"merge takes at least 1"}},
		{"seven doublings of the value are refused", doubling(7), []string{"would copy the value too many times", "more than the 64 times allowed"}},
		{"the review's doubling chain is refused", "[@,@][].[@,@][].[@,@][].[@,@][].[@,@][].[@,@][].[@,@]", []string{"would copy the value too many times"}},
		{"a multi-select of 65 is refused", "[" + strings.TrimSuffix(strings.Repeat("@,", 65), ",") + "]", []string{"would copy the value too many times"}},
		{"zip of 70 copies is refused", "zip(" + strings.TrimSuffix(strings.Repeat("@,", 70), ",") + ")", []string{"would copy the value too many times"}},
		{"map multiplies by its expression", "map(&[@,@,@,@,@,@,@,@], [@,@,@,@,@,@,@,@,@])", []string{"would copy the value too many times"}},
		{"a filter condition multiplies like its projection", "[@,@,@,@,@,@,@,@][?[@,@,@,@,@,@,@,@,@] == `1`]", []string{"too many times"}},
		{"a syntax error says where", "a[", []string{`path "a[" is not a valid JMESPath expression`, "at character"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.path)
			if err == nil {
				t.Fatalf("Compile(%.40q) accepted it", tc.path)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %.300q\n  does not contain %q", err, w)
				}
			}
			if len(err.Error()) > 2*MaxExprBytes {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestCompileJMESPathAcceptsOrdinaryExpressions(t *testing.T) {
	t.Parallel()
	for _, path := range []string{
		"username", "credentials.password", `"db-user"`, "hosts[1]", "hosts[-1]", "hosts[0:2]",
		"join(',', hosts)", "to_string(port)", "users[?n=='b'] | [0].r", "users[*].name | [0]",
		"not_null(a, b, c)", "sort_by(users, &name)[0].name", "keys(@) | sort(@) | [0]",
		"{a: a, b: b}.a", "max_by(users, &age).name", "a || b", "!a", "-a", "a.b.c.d.e.f.g",
		"pad_left(a, `10`, '0')", "replace(a, 'x', 'y')", "split(a, ',')[0]", "upper(a)",
		strings.TrimSuffix(strings.Repeat("[@,@][].", 6), "[]."), // 64 copies exactly
		"[" + strings.TrimSuffix(strings.Repeat("@,", 64), ",") + "]",
		strings.Repeat("(", 32) + "a" + strings.Repeat(")", 32),
		strings.Repeat("a.", 511) + "a", // 1023 bytes
	} {
		if _, err := Compile(path); err != nil {
			t.Errorf("Compile(%.60q) = %v", path, err)
		}
	}
}

func TestExprFanOutFollowsTheCostModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		want int
	}{
		{"a", 1}, {"@", 1}, {"`[1,2,3]`", 1}, {"a.b.c", 1},
		{"[a, b]", 2}, {"{x: a, y: b, z: c}", 3},
		{"[a, b].[c, d]", 4}, {"[a, b] | [c, d, e]", 6},
		{"a[*].[b, c]", 2}, {"[a, b][].[c, d]", 4}, {"*.[a, b]", 2},
		{"a[?b == c]", 1}, {"a[?[b, c] == d].[e, f]", 2}, {"[a, b][?[c, d, e] == f]", 6},
		{"map(&[a, b], c)", 2}, {"sort_by([a, b, c], &[d, e])", 6},
		{"join(',', [a, b])", 3}, {"merge(a, b, c)", 3}, {"abs(a)", 1}, {"length(@)", 1},
		{"[a, b] == [c, d, e]", 3}, {"[a, b] || [c]", 2}, {"![a, b]", 2},
	} {
		e, err := Compile(tc.path)
		if err != nil {
			t.Errorf("Compile(%q) = %v", tc.path, err)
			continue
		}
		if got := e.fanOut; got != tc.want {
			t.Errorf("fan-out of %q = %d, want %d", tc.path, got, tc.want)
		}
	}
}

// TestCompilingNeverEvaluates: what the review found allocating hundreds of
// MB at parse time compiles for almost nothing now; its cost moves to the
// Mount, where the budget stops it.
func TestCompilingNeverEvaluates(t *testing.T) {
	for _, path := range []string{
		"pad_left('x', `200000000`)",
		"pad_right('x', `200000000`, 'y')",
		"join('" + strings.Repeat("g", 900) + "', split(pad_left('x', `100000`), ''))",
	} {
		var err error
		n := testkit.Allocated(func() { _, err = Compile(path) })
		if err != nil {
			t.Errorf("Compile(%.40q) = %v", path, err)
		}
		if n > 1<<20 {
			t.Errorf("compiling %.40q allocated %d bytes, want under 1 MiB", path, n)
		}
		t.Logf("compiling %.40q allocated %d bytes", path, n)
	}
}

func TestEveryLibraryFunctionIsInTheTable(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"abs", "avg", "ceil", "contains", "ends_with", "find_first", "find_last", "floor",
		"from_items", "group_by", "items", "join", "keys", "length", "lower", "map", "max", "max_by", "merge", "min",
		"min_by", "not_null", "pad_left", "pad_right", "replace", "reverse", "sort", "sort_by", "split", "starts_with",
		"sum", "to_array", "to_number", "to_string", "trim", "trim_left", "trim_right", "type", "upper", "values", "zip"} {
		if _, ok := jmesFunctions[name]; !ok {
			t.Errorf("function %s is missing from the table", name)
		}
	}
	if len(jmesFunctions) != 41 {
		t.Errorf("the table has %d functions, want the library's 41: review outputBound for any new one", len(jmesFunctions))
	}
}
