package jmes

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/jmespath-community/go-jmespath/pkg/api"
)

// dbJSON is a value like a real secret's.
const dbJSON = `{"username":"admin","password":"s3cr3t-Pa55","port":5432,"tls":true,"opts":{"ssl":"on"},"hosts":["a","b"],"empty":null}`

// FuzzJMESPath compiles a fuzzed expression and evaluates it over a fuzzed
// JSON document. Whatever compiles must evaluate within the allocation
// bound, never panic out, never quote the document in an error, and agree
// with the library's own evaluation when the budget lets it finish.
func FuzzJMESPath(f *testing.F) {
	for _, seed := range []struct{ expr, doc string }{
		{"username", dbJSON},
		{"join(',', hosts)", dbJSON},
		{"pad_left(username, `200000000`)", dbJSON},
		{"replace(replace(replace(password, 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')", `{"password":"aaaaaaaaaaaaaaaaaaaa"}`},
		{"[@,@][].[@,@][].[@,@][].[@,@][].[@,@][].[@,@]", `[1,2,3]`},
		{"to_string([@,@,@,@,@,@,@,@])", `{"a":["x","y","z"]}`},
		{"sort_by(users, &name)[0].name", `{"users":[{"name":"b"},{"name":"a"}]}`},
		{"map(&split(@, ''), words)", `{"words":["abc","def"]}`},
		{"zip(a, a, a)", `{"a":[1,2,3]}`},
		{"find_first('abc', 'b', `5`)", `null`},
		{"items(@)[?[1] == `1`]", `{"x":1,"y":2}`},
	} {
		f.Add(seed.expr, []byte(seed.doc))
	}
	f.Fuzz(func(t *testing.T, expr string, raw []byte) {
		var e *Expr
		var err error
		testkit.BoundAllocations(t, func() { e, err = Compile(expr) })
		if err != nil || len(raw) > MaxDocumentBytes {
			return
		}
		var doc any
		if json.Unmarshal(raw, &doc) != nil {
			return
		}
		var res any
		testkit.BoundAllocations(t, func() { res, err = e.Evaluate(doc, nil) })
		if err != nil {
			if len(raw) >= 16 && !strings.Contains(expr, string(raw)) && strings.Contains(err.Error(), string(raw)) {
				t.Fatalf("error %q quotes the document", err)
			}
			return
		}
		// The budget let it finish, so the library alone does the same
		// bounded work, and gets the same result wherever map order
		// cannot change it.
		want, werr := api.Search(expr, doc)
		if werr != nil {
			t.Fatalf("evaluate(%q) = %v, but the library fails with %v", expr, res, werr)
		}
		if orderFree(expr, doc) && !sameJSON(res, want) {
			t.Fatalf("evaluate(%q) = %v, the library says %v", expr, res, want)
		}
	})
}

// orderFree reports whether evaluating expr over doc cannot depend on Go's
// map order: the document has no object of two keys or more, and the
// expression builds none.
func orderFree(expr string, doc any) bool {
	for _, s := range []string{"{", "merge", "from_items", "group_by"} {
		if strings.Contains(expr, s) {
			return false
		}
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			if len(v) > 1 {
				return false
			}
			for _, e := range v {
				return walk(e)
			}
		case []any:
			for _, e := range v {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	return walk(doc)
}

// sameJSON compares two results as JSON.
func sameJSON(a, b any) bool {
	x, errx := json.Marshal(a)
	y, erry := json.Marshal(b)
	return string(x) == string(y) && (errx == nil) == (erry == nil)
}
