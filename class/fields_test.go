package class_test

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// withField is the object "db" with one more line (or lines) of fields.
func withField(lines ...string) map[string]string {
	return mountAttrs(yamlLines(append([]string{"- objectName: db", "  objectType: secretsmanager"}, lines...)...))
}

func TestParseClassReadsTheBooleanFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, line string
		want       bool
	}{
		{"a YAML true is true", "true", true},
		{"a YAML True is true", "True", true},
		{"a YAML FALSE is false", "FALSE", false},
		{"the string \"true\" is true", `"true"`, true},
		{"the string \"tRuE\" in any case is true", `"tRuE"`, true},
		{"the string 'false' is false", `'false'`, false},
		{"null is false", "~", false},
		{"an empty value is false", "", false},
	} {
		for _, field := range []string{"jsonKeysAsFiles", "optional"} {
			t.Run(field+": "+tc.name, func(t *testing.T) {
				t.Parallel()
				o := mustParse(t, withField("  "+field+": "+tc.line)).Objects[0]
				got := o.JSONKeysAsFiles
				if field == "optional" {
					got = o.Optional
				}
				if got != tc.want {
					t.Errorf("%s: %s = %v, want %v", field, tc.line, got, tc.want)
				}
			})
		}
	}
	t.Run("an object that sets neither is neither", func(t *testing.T) {
		t.Parallel()
		o := mustParse(t, mountAttrs(oneSecret)).Objects[0]
		if o.JSONKeysAsFiles || o.Optional || o.Encoding != class.EncodingUTF8 {
			t.Errorf("object = %+v", o)
		}
	})
}

func TestParseClassReadsObjectEncoding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lines []string
		// object is the object's Encoding, own its file's, entries its
		// jmesPath entries'.
		object, own class.Encoding
		entries     []class.Encoding
	}{
		{"no objectEncoding is utf-8", nil, class.EncodingUTF8, class.EncodingUTF8, nil},
		{"utf-8 is utf-8", []string{"  objectEncoding: utf-8"}, class.EncodingUTF8, class.EncodingUTF8, nil},
		{"UTF-8 in upper case is utf-8", []string{"  objectEncoding: UTF-8"}, class.EncodingUTF8, class.EncodingUTF8, nil},
		{"an empty objectEncoding is utf-8", []string{`  objectEncoding: ""`}, class.EncodingUTF8, class.EncodingUTF8, nil},
		{"base64 decodes the object's own file", []string{"  objectEncoding: base64"}, class.EncodingBase64, class.EncodingBase64, nil},
		{"Base64URL in any case is base64url", []string{"  objectEncoding: Base64URL"}, class.EncodingBase64URL, class.EncodingBase64URL, nil},
		{"HEX in upper case is hex", []string{"  objectEncoding: HEX"}, class.EncodingHex, class.EncodingHex, nil},
		{"jmesPath entries take the object's encoding and the object's own file stays JSON",
			[]string{"  objectEncoding: hex", "  jmesPath:", "    - {path: a, objectAlias: a}"},
			class.EncodingHex, class.EncodingUTF8, []class.Encoding{class.EncodingHex}},
		{"a jmesPath entry's objectEncoding overrides the object's",
			[]string{"  objectEncoding: hex", "  jmesPath:", "    - {path: a, objectAlias: a, objectEncoding: utf-8}", "    - {path: b, objectAlias: b, objectEncoding: base64}"},
			class.EncodingHex, class.EncodingUTF8, []class.Encoding{class.EncodingUTF8, class.EncodingBase64}},
		{"a jmesPath entry may decode when the object does not",
			[]string{"  jmesPath:", "    - {path: a, objectAlias: a, objectEncoding: base64url}"},
			class.EncodingUTF8, class.EncodingUTF8, []class.Encoding{class.EncodingBase64URL}},
		{"with jsonKeysAsFiles the object's own file stays JSON",
			[]string{"  objectEncoding: base64", "  jsonKeysAsFiles: true"},
			class.EncodingBase64, class.EncodingUTF8, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := mustParse(t, withField(tc.lines...)).Objects[0]
			if o.Encoding != tc.object || o.OwnEncoding() != tc.own {
				t.Errorf("Encoding, OwnEncoding = %v, %v; want %v, %v", o.Encoding, o.OwnEncoding(), tc.object, tc.own)
			}
			var got []class.Encoding
			for _, e := range o.JMESPath {
				got = append(got, e.Encoding)
			}
			if len(got) != len(tc.entries) || (len(got) > 0 && strings.Join(encNames(got), ",") != strings.Join(encNames(tc.entries), ",")) {
				t.Errorf("jmesPath encodings = %v, want %v", encNames(got), encNames(tc.entries))
			}
		})
	}
}

func encNames(es []class.Encoding) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.String())
	}
	return out
}

func TestParseClassRefusesBadValuesOfTheNewFields(t *testing.T) {
	t.Parallel()
	var cases []badCase
	for _, field := range []string{"jsonKeysAsFiles", "optional"} {
		for _, bad := range []struct{ name, line, says string }{
			{"the string yes", "yes", `the string "yes"`},
			{"the number 1", "1", "the number 1"},
			{"the string \"1\"", `"1"`, `the string "1"`},
			{"a word", "maybe", `the string "maybe"`},
			{"a list", "[true]", "a list"},
			{"a mapping", "{on: true}", "a mapping"},
		} {
			cases = append(cases, badCase{name: field + " that is " + bad.name + " is refused, naming the object and the field",
				params: withField("  " + field + ": " + bad.line),
				want:   []string{`objects[0] "db": ` + field + " must be true or false, not " + bad.says}})
		}
	}
	cases = append(cases,
		badCase{name: "an unknown objectEncoding is refused, naming the object, the field and the encodings",
			params: withField("  objectEncoding: base32"),
			want:   []string{`objects[0] "db": objectEncoding "base32" is not an encoding this provider decodes`, "utf-8", "base64url", "hex"}},
		badCase{name: "utf8 without its dash is refused with the right spelling",
			params: withField("  objectEncoding: utf8"),
			want:   []string{`objects[0] "db": objectEncoding "utf8" is not an encoding`, "use utf-8"}},
		badCase{name: "an objectEncoding that is a list is refused",
			params: withField("  objectEncoding: [base64]"),
			want:   []string{`objects[0] "db": objectEncoding must be a string, not a list`}},
		badCase{name: "an objectEncoding that is a mapping is refused",
			params: withField("  objectEncoding: {name: base64}"),
			want:   []string{`objects[0] "db": objectEncoding must be a string, not a mapping`}},
		badCase{name: "an objectEncoding past 64 bytes is refused without quoting it",
			params: withField("  objectEncoding: " + strings.Repeat("b", 65)),
			want:   []string{`objects[0] "db": objectEncoding is 65 bytes long, more than the 64 allowed`},
			secret: strings.Repeat("b", 65)},
		badCase{name: "a jmesPath entry's unknown objectEncoding is refused, naming the entry",
			params: withField("  jmesPath:", "    - {path: a, objectAlias: a, objectEncoding: rot13}"),
			want:   []string{`objects[0] "db": jmesPath[0] objectEncoding "rot13" is not an encoding`}},
		badCase{name: "a jmesPath entry's objectEncoding that is a list is refused, naming the entry",
			params: withField("  jmesPath:", "    - {path: a, objectAlias: a, objectEncoding: [hex]}"),
			want:   []string{`objects[0] "db": jmesPath[0] objectEncoding must be a string, not a list`}},
	)
	runBadCases(t, cases)
}
