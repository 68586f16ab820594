package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// files is BuildFiles' answer as "path mode version contents" lines.
func filesOf(fs []File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = fmt.Sprintf("%s %04o %s %q", f.Path, f.Mode, f.Version, f.Contents)
	}
	return out
}

// build parses the objects (each line of the YAML list given as is) and
// builds the files for values, one string per object.
func build(t *testing.T, objects string, values ...string) ([]File, error) {
	t.Helper()
	c := mustParse(t, mountAttrs(objects))
	vs := make([]Value, len(values))
	for i, v := range values {
		vs[i] = Value{Data: []byte(v), Version: fmt.Sprintf("v%d", i+1)}
	}
	return BuildFiles(c, vs, driverLimit)
}

// oneEntry is the object db with one jmesPath entry (path, and the
// entry's extra fields) written to file "out".
func oneEntry(path string, extra ...string) string {
	return yamlLines(append([]string{"- objectName: db", "  objectType: secretsmanager", "  jmesPath:",
		"    - path: '" + path + "'", "      objectAlias: out"}, extra...)...)
}

func TestJMESPathResultsOfAnyJSONTypeBecomeFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value, path, want string
	}{
		{"a number is written as the JSON had it", dbJSON, "port", "5432"},
		{"true is written true", dbJSON, "tls", "true"},
		{"false is written false", `{"on":false}`, "on", "false"},
		{"an object is compact JSON", dbJSON, "opts", `{"ssl":"on"}`},
		{"an array is compact JSON", dbJSON, "hosts", `["a","b"]`},
		{"an object's keys are sorted, nested ones too", `{"z":1,"a":{"y":[1, 2],"b":null}}`, "@", `{"a":{"b":null,"y":[1,2]},"z":1}`},
		{"a negative integer keeps its sign", `{"n":-3}`, "n", "-3"},
		{"a fraction is written in its shortest form", `{"n":0.50}`, "n", "0.5"},
		{"a whole number written with a fraction loses it", `{"n":2.0}`, "n", "2"},
		{"a large number is written with an exponent, as encoding/json does", `{"n":1e21}`, "n", "1e+21"},
		{"a small number is written with an exponent, as encoding/json does", `{"n":0.0000001}`, "n", "1e-7"},
		{"an integer beyond 2^53 is rounded to a float64", `{"n":12345678901234567890}`, "n", "12345678901234567000"},
		{"a number a function computes is written as a number", dbJSON, "length(hosts)", "2"},
		{"a sum with a fraction is written as a number", `{"l":[1,2.5]}`, "sum(l)", "3.5"},
		{"<, > and & are written as they are", `{"a":{"u":"<&>"}}`, "a", `{"u":"<&>"}`},
		{"unicode in an object is written as it is", `{"a":{"u":"pässwörd ✓"}}`, "a", `{"u":"pässwörd ✓"}`},
		{"control characters in an object are escaped", `{"a":["x\ny"]}`, "a", `["x\ny"]`},
		{"a multi-select hash is an object", dbJSON, "{u: username, p: port}", `{"p":5432,"u":"admin"}`},
		{"an empty object is {}", `{"a":{}}`, "a", `{}`},
		{"an empty array is []", `{"a":[]}`, "a", `[]`},
		{"a string is still its value, not JSON", dbJSON, "username", "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := extractAll(jmesObject(tc.path), []byte(tc.value))
			if err != nil {
				t.Fatalf("path %q: %v", tc.path, err)
			}
			if string(got[0]) != tc.want {
				t.Errorf("path %q = %s, want %s", tc.path, got[0], tc.want)
			}
		})
	}
}

func TestObjectEncodingDecodesBeforeWriting(t *testing.T) {
	t.Parallel()
	obj := func(enc string, more ...string) string {
		return yamlLines(append([]string{"- objectName: db", "  objectType: secretsmanager", "  objectEncoding: " + enc}, more...)...)
	}
	for _, tc := range []struct {
		name, objects, value string
		want                 []string
	}{
		{"base64 is decoded", obj("base64"), "aGVsbG8=", []string{`db 0644 v1 "hello"`}},
		{"base64 without its padding is decoded", obj("base64"), "aGVsbG8", []string{`db 0644 v1 "hello"`}},
		{"base64 with line breaks and a trailing newline is decoded", obj("base64"), "aGVs\nbG8=\r\n", []string{`db 0644 v1 "hello"`}},
		{"base64 of binary lands as its bytes", obj("base64"), "AAEC/w==", []string{`db 0644 v1 "\x00\x01\x02\xff"`}},
		{"base64url is decoded", obj("base64url"), "AAEC_w", []string{`db 0644 v1 "\x00\x01\x02\xff"`}},
		{"hex is decoded", obj("hex"), "48656c6c6f", []string{`db 0644 v1 "Hello"`}},
		{"hex in upper case with a trailing newline is decoded", obj("hex"), "48656C6C6F\n", []string{`db 0644 v1 "Hello"`}},
		{"an empty value decodes to an empty file", obj("hex"), "", []string{`db 0644 v1 ""`}},
		{"utf-8 writes the value as is", obj("utf-8"), "aGVsbG8=", []string{`db 0644 v1 "aGVsbG8="`}},
		{"a jmesPath entry decodes the string it selects",
			oneEntry("ks", "      objectEncoding: base64"), `{"ks":"AAEC/w=="}`,
			[]string{`db 0644 v1 "{\"ks\":\"AAEC/w==\"}"`, `out 0644 v1 "\x00\x01\x02\xff"`}},
		{"an object's encoding applies to its entries, and its own file stays JSON",
			obj("hex", "  jmesPath:", "    - {path: a, objectAlias: a}", "    - {path: b, objectAlias: b, objectEncoding: utf-8}"), `{"a":"6869","b":"6869"}`,
			[]string{`db 0644 v1 "{\"a\":\"6869\",\"b\":\"6869\"}"`, `a 0644 v1 "hi"`, `b 0644 v1 "6869"`}},
		{"an encoding leaves a number's JSON text alone", oneEntry("n", "      objectEncoding: hex"), `{"n":5}`,
			[]string{`db 0644 v1 "{\"n\":5}"`, `out 0644 v1 "5"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := build(t, tc.objects, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if g := filesOf(got); strings.Join(g, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("files =\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestJSONKeysAsFiles(t *testing.T) {
	t.Parallel()
	keys := func(more ...string) string {
		return yamlLines(append([]string{"- objectName: db", "  objectType: secretsmanager", "  objectAlias: db.json",
			"  filePermission: \"0440\"", "  jsonKeysAsFiles: true"}, more...)...)
	}
	for _, tc := range []struct {
		name, objects, value string
		want                 []string
	}{
		{"every top-level key is a file beside the object's own, sorted, with its mode and version",
			keys(), `{"user":"admin","pass":"p@ss"}`,
			[]string{`db.json 0440 v1 "{\"user\":\"admin\",\"pass\":\"p@ss\"}"`, `pass 0440 v1 "p@ss"`, `user 0440 v1 "admin"`}},
		{"values of any JSON type follow rule 1",
			keys(), `{"port":5432,"tls":true,"opts":{"z":1,"a":[1,"x"]}}`,
			[]string{`db.json 0440 v1 "{\"port\":5432,\"tls\":true,\"opts\":{\"z\":1,\"a\":[1,\"x\"]}}"`,
				`opts 0440 v1 "{\"a\":[1,\"x\"],\"z\":1}"`, `port 0440 v1 "5432"`, `tls 0440 v1 "true"`}},
		{"an empty object has only the object's own file", keys(), `{}`, []string{`db.json 0440 v1 "{}"`}},
		{"a key with a slash is translated", keys(), `{"app/user":"u"}`,
			[]string{`db.json 0440 v1 "{\"app/user\":\"u\"}"`, `app_user 0440 v1 "u"`}},
		{"the object's encoding decodes each key's string, and its own file stays JSON",
			keys("  objectEncoding: base64"), `{"cert":"aGk=","n":7}`,
			[]string{`db.json 0440 v1 "{\"cert\":\"aGk=\",\"n\":7}"`, `cert 0440 v1 "hi"`, `n 0440 v1 "7"`}},
		{"jmesPath entries come first, then the keys",
			keys("  jmesPath:", "    - {path: user, objectAlias: login, filePermission: \"0400\"}"), `{"user":"admin"}`,
			[]string{`db.json 0440 v1 "{\"user\":\"admin\"}"`, `login 0400 v1 "admin"`, `user 0440 v1 "admin"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := build(t, tc.objects, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if g := filesOf(got); strings.Join(g, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("files =\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	t.Run("files appear and disappear with the keys", func(t *testing.T) {
		t.Parallel()
		c := mustParse(t, mountAttrs(keys()))
		for _, step := range []struct{ value, want string }{
			{`{"a":"1"}`, "db.json a"},
			{`{"a":"1","b":"2"}`, "db.json a b"},
			{`{"b":"2"}`, "db.json b"},
		} {
			got, err := BuildFiles(c, []Value{{Data: []byte(step.value), Version: "v"}}, driverLimit)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range got {
				paths = append(paths, f.Path)
			}
			if strings.Join(paths, " ") != step.want {
				t.Errorf("value %s: files %q, want %s", step.value, paths, step.want)
			}
		}
	})
}

func TestAMissingOptionalObjectHasNoFiles(t *testing.T) {
	t.Parallel()
	c := mustParse(t, mountAttrs(yamlLines(
		"- {objectName: a, objectType: secretsmanager, optional: true, jsonKeysAsFiles: true, jmesPath: [{path: x, objectAlias: ax}]}",
		"- {objectName: b, objectType: ssmparameter}",
	)))
	got, err := BuildFiles(c, []Value{{Missing: true}, {Data: []byte("bee"), Version: "3"}}, driverLimit)
	if err != nil {
		t.Fatal(err)
	}
	if g := filesOf(got); strings.Join(g, ",") != `b 0644 3 "bee"` {
		t.Errorf("files = %q, want only b's", g)
	}
	if got := LeftOut(c, []Value{{Missing: true}, {Data: []byte("bee")}}); strings.Join(got, ",") != "a" {
		t.Errorf("LeftOut = %q, want the missing object's file name", got)
	}
}

func TestBuildFilesRefusesBadJSONFilesAndEncodings(t *testing.T) {
	t.Parallel()
	runBadCases(t, jsonFilesBadCases())
}

func jsonFilesBadCases() []badCase {
	const secret = "TOPSECRET-marker"
	keys := func(more ...string) map[string]string {
		return mountAttrs(yamlLines(append([]string{"- objectName: db", "  objectType: secretsmanager", "  jsonKeysAsFiles: true"}, more...)...))
	}
	enc := func(e string) map[string]string {
		return mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager", "  objectEncoding: "+e))
	}
	val := func(s string) []Value { return []Value{{Data: []byte(s), Version: "v1"}} }
	return []badCase{
		{name: "jsonKeysAsFiles on a value that is not JSON is refused without quoting it",
			params: keys(), values: val("password=" + secret),
			want: []string{`objects[0] "db": the value is not JSON, so jsonKeysAsFiles cannot apply`}, secret: secret},
		{name: "jsonKeysAsFiles on an array is refused, naming the object and the field",
			params: keys(), values: val(`["` + secret + `"]`),
			want: []string{`objects[0] "db": jsonKeysAsFiles needs the value to be a JSON object`, "but it is an array"}, secret: secret},
		{name: "jsonKeysAsFiles on a JSON string is refused",
			params: keys(), values: val(`"` + secret + `"`),
			want: []string{`jsonKeysAsFiles needs the value to be a JSON object`, "but it is a string"}, secret: secret},
		{name: "jsonKeysAsFiles on a number is refused",
			params: keys(), values: val(`5432`),
			want: []string{`jsonKeysAsFiles needs the value to be a JSON object`, "but it is a number"}, secret: "5432"},
		{name: "jsonKeysAsFiles on JSON null is refused",
			params: keys(), values: val(`null`),
			want: []string{`jsonKeysAsFiles needs the value to be a JSON object`, "but it is null"}},
		{name: "a key whose value is null is refused, naming the key",
			params: keys(), values: val(`{"a":"x","gone":null}`),
			want: []string{`objects[0] "db": jsonKeysAsFiles key "gone" holds null`, "list the keys you need under jmesPath"}},
		{name: "a key that is no valid file name is refused, naming the key",
			params: keys(), values: val(`{"..":"` + secret + `"}`),
			want: []string{`objects[0] "db": jsonKeysAsFiles key ".." gives file name ".."`}, secret: secret},
		{name: "a key colliding with another object's alias is refused, naming both",
			params: keys("- {objectName: other, objectType: secretsmanager, objectAlias: user}"), values: []Value{{Data: []byte(`{"user":"x"}`)}, {Data: []byte("y")}},
			want: []string{`objects[0] "db" jsonKeysAsFiles key "user" and objects[1] "other" would both write file "user"`}},
		{name: "a key colliding with its own object's file is refused",
			params: keys(), values: val(`{"db":"x"}`),
			want: []string{`objects[0] "db" jsonKeysAsFiles key "db" and objects[0] "db" would both write file "db"`}},
		{name: "more keys than the class may have files are refused",
			params: keys(), values: val(manyKeysJSON(class.MaxFiles)),
			want: []string{`objects[0] "db": jsonKeysAsFiles: the value has 1000 top-level keys`, "more than the 1000 one may write"}},
		{name: "a key whose string is not valid base64 is refused, naming the key and the encoding",
			params: keys("  objectEncoding: base64"), values: val(`{"cert":"` + secret + `!"}`),
			want: []string{`objects[0] "db": jsonKeysAsFiles key "cert" holds a string that is not valid base64 (objectEncoding base64)`}, secret: secret},
		{name: "a value that is not valid base64 is refused, naming the object and the encoding",
			params: enc("base64"), values: val(secret + "!"),
			want: []string{`objects[0] "db": the value is not valid base64 (objectEncoding base64)`, "store it in that encoding or change objectEncoding"}, secret: secret},
		{name: "base64url text read as base64 is refused with a hint",
			params: enc("base64"), values: val("AAEC_w"),
			want: []string{`the value is not valid base64 (objectEncoding base64): base64 uses + and /, base64url - and _`}, secret: "AAEC_w"},
		{name: "base64 of an impossible length is refused",
			params: enc("base64url"), values: val("AAECA"),
			want: []string{`objects[0] "db": the value is not valid base64url (objectEncoding base64url)`}, secret: "AAECA"},
		{name: "hex of odd length is refused, naming the object and the encoding",
			params: enc("hex"), values: val("abc"),
			want: []string{`objects[0] "db": the value is not valid hex (objectEncoding hex): it has an odd number of hex digits`}, secret: "abc"},
		{name: "hex with a character that is no hex digit is refused without quoting it",
			params: enc("hex"), values: val("TOPSECRET-mark"),
			want: []string{`objects[0] "db": the value is not valid hex (objectEncoding hex): it has a character that is not a hex digit`}, secret: "TOPSECRET"},
		{name: "a jmesPath entry's string that is not valid hex is refused, naming the entry and the encoding",
			params: mountAttrs(oneEntry("k", "      objectEncoding: hex")), values: val(`{"k":"` + secret + `"}`),
			want: []string{`objects[0] "db": jmesPath[0] path "k" selects a string that is not valid hex (objectEncoding hex)`}, secret: secret},
		{name: "a jmesPath entry inheriting the object's encoding is refused the same way",
			params: mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager", "  objectEncoding: base64",
				"  jmesPath:", "    - {path: k, objectAlias: out}")), values: val(`{"k":"` + secret + `"}`),
			want: []string{`jmesPath[0] path "k" selects a string that is not valid base64 (objectEncoding base64)`}, secret: secret},
		{name: "a binary value read as base64 is refused without quoting it",
			params: enc("base64"), values: []Value{{Data: []byte{0xff, 0x00, 'T', 'O', 'P'}}},
			want: []string{`the value is not valid base64`}, secret: "TOP"},
		{name: "a jmesPath result whose JSON text would pass the limit is refused before it is made",
			params: mountAttrs(oneEntry("[l,l,l,l,l,l,l,l]")), values: val(`{"l":[` + strings.Repeat(`"\u0001",`, 10000) + `""]}`), limit: 200 << 10,
			kind: failure.TooLarge, want: []string{`the mount's files add up to at least`, `objects[0] "db"`}},
	}
}

func manyKeysJSON(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	b.WriteString("}")
	return b.String()
}
