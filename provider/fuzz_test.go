package provider

import (
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

func FuzzBuildFiles(f *testing.F) {
	for _, seed := range []struct {
		value []byte
		expr  string
	}{
		{[]byte(dbJSON), "username"},
		{[]byte(dbJSON), "port"},
		{[]byte(dbJSON), "hosts[?@ == 'a'] | [0]"},
		{[]byte(`"plain"`), "@"},
		{[]byte("not json"), "a"},
		{[]byte(`{"a":[1,2,{"b":"c"}]}`), "a[2].b"},
		{[]byte(`{"a":"x"}`), "abs(a)"},
		{[]byte{0xff, 0xfe, 0x00}, "@"},
		{[]byte(`{"f":"aaaaaaaaaa"}`), "replace(replace(f, 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')"},
	} {
		f.Add(seed.value, seed.expr)
	}
	f.Fuzz(func(t *testing.T, value []byte, expr string) {
		if _, err := jmes.Compile(expr); err != nil {
			return // class.Parse refuses these before BuildFiles sees them
		}
		c := &class.Class{Objects: []class.Object{{
			Name: "db", Type: SecretsManager, FileName: "db", Mode: 0o644,
			JMESPath: []class.JMESPathFile{{Path: expr, FileName: "out", Mode: 0o600}},
		}}}
		var files []File
		var err error
		testkit.BoundAllocations(t, func() { files, err = BuildFiles(c, []Value{{Data: value, Version: "v1"}}, 1<<20) })
		if err != nil {
			if k := failure.KindOf(err); k != failure.InvalidArgument && k != failure.TooLarge {
				t.Fatalf("BuildFiles error of kind %v: %v", k, err)
			}
			if len(value) >= 24 && !strings.Contains(expr, string(value)) && strings.Contains(err.Error(), string(value)) {
				t.Fatalf("error %q reveals the value", err)
			}
			return
		}
		if len(files) != 2 || string(files[0].Contents) != string(value) {
			t.Fatalf("BuildFiles = %d files, want the object and its jmesPath file", len(files))
		}
		for _, fl := range files {
			testkit.CheckAcceptedPath(t, fl.Path)
			if fl.Version != "v1" {
				t.Fatalf("file %q has version %q, want the value's", fl.Path, fl.Version)
			}
		}
	})
}

// FuzzJSONFiles builds the files of a jsonKeysAsFiles object with a
// jmesPath entry and an objectEncoding over any value: it fails only with
// a classified error that does not quote the value, within the allocation
// bound, and otherwise names every file validly and once.
func FuzzJSONFiles(f *testing.F) {
	for _, seed := range []struct {
		value []byte
		enc   byte
	}{
		{[]byte(dbJSON), 0},
		{[]byte(`{"a":"aGk=","b":{"c":[1,2]},"n":5}`), 1},
		{[]byte(`{"a/b":"6869","a_b":"x"}`), 3},
		{[]byte(`{"..":"x","":"y"}`), 0},
		{[]byte(`["not","an","object"]`), 2},
		{[]byte(`{"k":null}`), 0},
		{[]byte(`{"db":"collides with the object's file"}`), 0},
	} {
		f.Add(seed.value, seed.enc)
	}
	encodings := []class.Encoding{class.EncodingUTF8, class.EncodingBase64, class.EncodingBase64URL, class.EncodingHex}
	f.Fuzz(func(t *testing.T, value []byte, enc byte) {
		c := &class.Class{PathTranslation: "_", Objects: []class.Object{{
			Name: "db", Type: SecretsManager, FileName: "db", Mode: 0o644, JSONKeysAsFiles: true,
			Encoding: encodings[int(enc)%len(encodings)],
			JMESPath: []class.JMESPathFile{{Path: "a", FileName: "out", Mode: 0o600}},
		}}}
		var files []File
		var err error
		testkit.BoundAllocations(t, func() { files, err = BuildFiles(c, []Value{{Data: value, Version: "v1"}}, 1<<20) })
		if err != nil {
			if k := failure.KindOf(err); k != failure.InvalidArgument && k != failure.TooLarge {
				t.Fatalf("BuildFiles error of kind %v: %v", k, err)
			}
			if len(value) >= 24 && strings.Contains(err.Error(), string(value)) {
				t.Fatalf("error %q reveals the value", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, fl := range files {
			testkit.CheckAcceptedPath(t, fl.Path)
			if seen[fl.Path] {
				t.Fatalf("two files named %q", fl.Path)
			}
			seen[fl.Path] = true
		}
		if !seen["db"] || !seen["out"] {
			t.Fatalf("files %v lack the object's or the entry's", seen)
		}
	})
}

// FuzzListingMembers: whatever names AWS returns for a listing's matches
// (a tenant names its secrets), the files are valid, distinct paths inside
// the listing's directory, or the Mount fails with InvalidArgument.
func FuzzListingMembers(f *testing.F) {
	for _, seed := range []struct{ a, b, translation string }{
		{"app/db", "app/api/key", ""},
		{"app/x", "app/x/y", "False"},
		{"app/..data/x", "app/.", "False"},
		{"app/a_b", "app/a/b", "_"},
		{"app/", "app//", "False"},
		{"app/\x00", "app/é", "-"},
	} {
		f.Add(seed.a, seed.b, seed.translation)
	}
	f.Fuzz(func(t *testing.T, a, b, translation string) {
		p := mountAttrs("- {objectNamePrefix: app/, objectType: secretsmanager, objectAlias: set, jsonKeysAsFiles: true}\n- {objectName: other, objectType: secretsmanager, objectAlias: set.txt}")
		p["pathTranslation"] = translation
		c, err := class.Parse(p, driverMode, catalog)
		if err != nil {
			return
		}
		values := []Value{{Members: []Member{{Name: a, Data: []byte(`{"k":"v"}`)}, {Name: b, Data: []byte(`{"k":"w"}`)}}}, {Data: []byte("o")}}
		files, err := BuildFiles(c, values, 1<<20)
		if err != nil {
			if k := failure.KindOf(err); k != failure.InvalidArgument {
				t.Fatalf("BuildFiles error of kind %v: %v", k, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, fl := range files {
			testkit.CheckAcceptedPath(t, fl.Path)
			if seen[fl.Path] {
				t.Fatalf("two files share the path %q", fl.Path)
			}
			seen[fl.Path] = true
			if fl.Path != "set.txt" && !strings.HasPrefix(fl.Path, "set/") {
				t.Fatalf("member file %q is outside the listing's directory", fl.Path)
			}
		}
	})
}
