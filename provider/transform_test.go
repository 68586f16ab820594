package provider

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// jmesObject is an object with jmesPath entries, built directly so the
// tests reach extractJMESPath with expressions class.Parse would refuse too.
func jmesObject(paths ...string) *class.Object {
	o := &class.Object{Index: 0, Name: "db", Type: SecretsManager, FileName: "db", Mode: 0o644}
	for i, p := range paths {
		o.JMESPath = append(o.JMESPath, class.JMESPathFile{Path: p, FileName: "f" + string(rune('a'+i)), Mode: 0o644})
	}
	return o
}

// extractAll decodes data as BuildFiles does, runs extractJMESPath and
// collects every file's contents.
func extractAll(o *class.Object, data []byte) ([][]byte, error) {
	doc, err := jsonDocument(o, data)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(o.JMESPath))
	err = extractJMESPath(o, doc, jmes.NewBudget(), func(j int, res any) error {
		b, err := jmesPathSource(o, j).contents(res)
		out[j] = b
		return err
	})
	return out, err
}

func TestJMESPathStringResultsBecomeFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value, path, want string
	}{
		{"a top-level field is selected", dbJSON, "username", "admin"},
		{"a nested field is selected", dbJSON, "opts.ssl", "on"},
		{"an array element is selected", dbJSON, "hosts[1]", "b"},
		{"a function that returns a string is allowed", dbJSON, "join(',', hosts)", "a,b"},
		{"a number turned into a string is allowed", dbJSON, "to_string(port)", "5432"},
		{"a quoted key with a dash is selected", `{"db-user":"x"}`, `"db-user"`, "x"},
		{"an empty string makes an empty file", `{"a":""}`, "a", ""},
		{"unicode survives", `{"a":"pässwörd ✓"}`, "a", "pässwörd ✓"},
		{"escapes in JSON are decoded", `{"a":"line1\nline2\u0000"}`, "a", "line1\nline2\x00"},
		{"a value that is a JSON string can be selected whole", `"just a string"`, "@", "just a string"},
		{"a filter expression is allowed", `{"users":[{"n":"a","r":"x"},{"n":"b","r":"y"}]}`, "users[?n=='b'] | [0].r", "y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := extractAll(jmesObject(tc.path), []byte(tc.value))
			if err != nil {
				t.Fatalf("extractJMESPath(%q) = %v", tc.path, err)
			}
			if string(got[0]) != tc.want {
				t.Errorf("extractJMESPath(%q) = %q, want %q", tc.path, got[0], tc.want)
			}
		})
	}
}

func TestJMESPathEvaluatesEveryEntryOfAnObject(t *testing.T) {
	t.Parallel()
	got, err := extractAll(jmesObject("username", "password", "opts.ssl"), []byte(dbJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"admin", "s3cr3t-Pa55", "on"}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("entry %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestJMESPathErrorsNeverQuoteTheValue tries every way an expression can
// fail over a value holding a marker, and checks the marker never shows.
func TestJMESPathErrorsNeverQuoteTheValue(t *testing.T) {
	t.Parallel()
	const marker = "TOPSECRET-marker"
	values := []string{
		marker,
		`{"a":"` + marker + `"`,
		`{"a":"` + marker + `","n":1,"o":{"k":"` + marker + `"},"l":["` + marker + `"]}`,
		`["` + marker + `"]`,
		`"` + marker + `"`,
		`{"` + marker + `":1}`,
	}
	paths := []string{
		"n", "o", "l", "missing", "a", "@", "*", "keys(@)", "abs(a)", "length(n)", "to_number(a)",
		"sort_by(l, &@)", "max_by(l, &@)", "contains(n, a)", "ends_with(n, a)", "join(',', @)",
		"merge(a, o)", "not_null(n)", "values(a)", "starts_with(a, n)", "avg(l)", "to_array(a)",
		"a | length(@)", "l[?@ == a] | [0] | abs(@)", "nope(@)",
	}
	for _, v := range values {
		for _, p := range paths {
			_, err := extractAll(jmesObject(p), []byte(v))
			if err != nil && strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("path %q over a value: error %q reveals the value", p, err)
			}
		}
	}
}

func TestDescribeResultNamesOnlyTheKind(t *testing.T) {
	t.Parallel()
	for kind, got := range map[string]string{
		"null":    describeResult(nil),
		"boolean": describeResult(true),
		"number":  describeResult(3.5),
		"object":  describeResult(map[string]any{"k": "secret"}),
		"array":   describeResult([]any{"secret"}),
	} {
		if !strings.Contains(got, kind) || strings.Contains(got, "secret") {
			t.Errorf("describeResult for a %s = %q", kind, got)
		}
	}
}

func TestExtractJMESPathRefusesADocumentOverItsLimit(t *testing.T) {
	t.Parallel()
	big := []byte(`"` + strings.Repeat("x", jmes.MaxDocumentBytes) + `"`)
	_, err := extractAll(jmesObject("@"), big)
	if err == nil || !strings.Contains(err.Error(), `objects[0] "db": the value is 1.0 MiB, more than the 1.0 MiB a jmesPath entry or jsonKeysAsFiles may read`) {
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
			n := testkit.Allocated(func() { _, err = BuildFiles(c, []Value{{Data: value, Version: "v"}}, driverLimit) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("BuildFiles = %v, want an error containing %q", err, tc.want)
			}
			t.Logf("%s: allocated %.1f MiB", tc.name, float64(n)/(1<<20))
		})
	}
}
