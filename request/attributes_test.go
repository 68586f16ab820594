package request

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// attributesJSON returns a JSON object of n attributes.
func attributesJSON(n int) string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestParseAttributes(t *testing.T) {
	t.Parallel()
	const token = "eyJhbGciOiJSUzI1NiJ9.secret-token"
	for _, tc := range []struct {
		name, in string
		want     []string // empty: accepted
	}{
		{"an object of strings is read", `{"a":"1","b":"` + token + `"}`, nil},
		{"a null value reads as empty, as before", `{"a":null}`, nil},
		{"128 attributes are accepted", attributesJSON(128), nil},
		{"129 attributes are refused", attributesJSON(129), []string{"the mount request has more than 128 attributes"}},
		{"attributes over 256 KiB are refused before decoding", `{"a":"` + strings.Repeat("x", 256<<10) + `"}`,
			[]string{"the mount request's attributes are 262152 bytes, more than the 256 KiB allowed", "split it into several SecretProviderClasses"}},
		{"a value that is not a string names its key", `{"objects":5,"t":"` + token + `"}`, []string{`attribute "objects" is not a string`}},
		{"a long key is named in part", `{"` + strings.Repeat("k", 1000) + `":[1]}`, []string{`attribute "` + strings.Repeat("k", 64) + `"... is not a string`}},
		{"a syntax error says where", `{"a":"` + token + `",}`, []string{"not a JSON object of strings: syntax error at byte"}},
		{"an array is not an object", `["` + token + `"]`, []string{"it is not an object"}},
		{"an empty request is refused", ``, []string{"not a JSON object of strings"}},
		{"a truncated object is refused", `{"a":"` + token, []string{"not a JSON object of strings"}},
		{"something after the object is refused", `{"a":"b"} {"c":"` + token + `"}`, []string{"something follows the object"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseAttributes(tc.in)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("parseAttributes = %v", err)
				}
				var want map[string]string
				if err := json.Unmarshal([]byte(tc.in), &want); err != nil || len(got) != len(want) {
					t.Errorf("parseAttributes = %d attributes, want %d", len(got), len(want))
				}
				return
			}
			if err == nil || failure.KindOf(err) != failure.InvalidArgument {
				t.Fatalf("parseAttributes = %v, want InvalidArgument", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n  does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret-token") || len(err.Error()) > 512 {
				t.Errorf("error %.600q quotes a value or is too long", err)
			}
		})
	}
}

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	if m, err := parseSecrets(""); err != nil || len(m) != 0 {
		t.Errorf(`parseSecrets("") = %v, %v; want an empty map`, m, err)
	}
	if m, err := parseSecrets(`{"token":"t"}`); err != nil || m["token"] != "t" {
		t.Errorf("parseSecrets = %v, %v", m, err)
	}
	_, err := parseSecrets(`{"token":"` + strings.Repeat("s", 256<<10) + `"}`)
	if err == nil || !strings.Contains(err.Error(), "secrets field is 262156 bytes, more than the 256 KiB allowed") || strings.Contains(err.Error(), "sss") {
		t.Errorf("parseSecrets of 256 KiB = %v", err)
	}
}

// FuzzAttributes feeds parseAttributes arbitrary text: it never panics,
// refuses only with InvalidArgument and a short message that never quotes
// a value, accepts nothing past its limits, and stays within its
// allocation bound.
func FuzzAttributes(f *testing.F) {
	for _, seed := range []string{
		`{"objects":"- {objectName: db}","csi.storage.k8s.io/pod.name":"p"}`,
		`{"a":null}`, `{"a":1}`, `[]`, `{`, ``, `{"a":"b"}x`, attributesJSON(129),
		`{"a":"\u0000\ud800"}`, `{"a":{"b":[[[[[[[[]]]]]]]]}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := parseAttributes(in)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
			t.Fatalf("one input allocated %d bytes", n)
		}
		if err != nil {
			if failure.KindOf(err) != failure.InvalidArgument || len(err.Error()) > 512 {
				t.Fatalf("error %v (kind %v, %d bytes)", err, failure.KindOf(err), len(err.Error()))
			}
			return
		}
		if len(in) > maxAttributesBytes || len(got) > maxAttributes {
			t.Fatalf("accepted %d bytes holding %d attributes", len(in), len(got))
		}
		var want map[string]string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("accepted attributes encoding/json refuses: %v", err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("attribute %q = %q, encoding/json reads %q", k, got[k], v)
			}
		}
	})
}
