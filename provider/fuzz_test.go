package provider

import (
	"path"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// checkAcceptedPath is the fuzz targets' oracle for a file path, written
// independently of checkRelPath: whatever ParseClass or BuildFiles accepts
// must be relative, clean and free of "..", or the driver (or WriteFiles)
// would write outside the mount.
func checkAcceptedPath(t *testing.T, p string) {
	t.Helper()
	if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p {
		t.Fatalf("accepted file path %q is not clean and relative", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			t.Fatalf("accepted file path %q has a .. segment", p)
		}
	}
	if strings.HasPrefix(p, "..") {
		t.Fatalf("accepted file path %q starts with ..", p)
	}
}

// maxAllocPerInput bounds what one fuzz input may allocate (TotalAlloc
// delta): far above what any limit allows, far below what would threaten
// the daemon's 256 MiB.
const maxAllocPerInput = 64 << 20

// boundAllocations runs f and fails the input if it allocated more than
// maxAllocPerInput.
func boundAllocations(t *testing.T, f func()) {
	t.Helper()
	if n := allocated(f); n > maxAllocPerInput {
		t.Fatalf("one input allocated %d bytes, more than %d", n, maxAllocPerInput)
	}
}

func FuzzParseClass(f *testing.F) {
	for _, seed := range []struct{ objects, translation string }{
		{oneSecret, ""},
		{yamlLines("- objectName: a/b", "  objectType: secretsmanager", "- objectName: a_b", "  objectType: secretsmanager"), ""},
		{yamlLines("- objectName: /app/../db", "  objectType: ssmparameter"), "False"},
		{yamlLines("- objectName: "+smARN, "  objectAlias: x", "  filePermission: 0600"), "é"},
		{yamlLines("- objectName: db", "  objectType: secretsmanager", "  jmesPath:", "    - path: a.b", "      objectAlias: ../x"), "false"},
		{yamlLines("- objectName: db", "  objectType: secretsmanager", "  objectAlias: x",
			"  failoverObject:", "    objectName: "+smARNWest), ""},
		{yamlLines("- &a {objectName: a, objectType: ssmparameter}", "- <<: *a", "  objectAlias: a/b/c"), "FALSE"},
		{"[]", ""},
		{"- ", ""},
		{"{", "/"},
		{yamlLines("- objectName: db", "  objectType: secretsmanager", "  jmesPath:",
			"    - {path: 'pad_left(a, `99999999`)', objectAlias: p}", "    - {path: '[@,@][].[@,@]', objectAlias: q}"), ""},
		{"- &o {objectName: a, objectType: secretsmanager, jmesPath: [&j {path: a, objectAlias: b}, *j]}\n- *o\n- *o\n", ""},
		{entries(101), ""},
		{withJMESPath("db", 101), ""},
	} {
		f.Add(seed.objects, seed.translation)
	}
	f.Fuzz(func(t *testing.T, objects, translation string) {
		var c *Class
		var err error
		boundAllocations(t, func() {
			c, err = ParseClass(map[string]string{
				"objects":         objects,
				"pathTranslation": translation,
				"failoverRegion":  "us-west-2",
			}, 0o644)
		})
		if err != nil {
			if k := failure.KindOf(err); k != failure.InvalidArgument {
				t.Fatalf("ParseClass error of kind %v, want InvalidArgument: %v", k, err)
			}
			return
		}
		if len(c.Objects) == 0 {
			t.Fatal("ParseClass accepted a class without objects")
		}
		if len(objects) > maxObjectsBytes || len(c.Objects) > maxObjects {
			t.Fatalf("ParseClass accepted %d bytes of objects listing %d entries", len(objects), len(c.Objects))
		}
		files := 0
		for _, o := range c.Objects {
			files += 1 + len(o.JMESPath)
			if len(o.JMESPath) > maxJMESPathEntries {
				t.Fatalf("ParseClass accepted %d jmesPath entries in one object", len(o.JMESPath))
			}
			for _, j := range o.JMESPath {
				if _, err := jmes.Compile(j.Path); err != nil || j.expr == nil {
					t.Fatalf("ParseClass accepted the path %q unchecked", j.Path)
				}
			}
		}
		if files > maxFiles {
			t.Fatalf("ParseClass accepted a class of %d files", files)
		}
		seen := map[string]bool{}
		claim := func(p string, mode int32) {
			checkAcceptedPath(t, p)
			if seen[p] {
				t.Fatalf("two files share the path %q", p)
			}
			seen[p] = true
			if mode < 0 || mode > 0o777 {
				t.Fatalf("file %q has mode %#o", p, mode)
			}
		}
		for _, o := range c.Objects {
			if o.Name == "" || (o.Type != SecretsManager && o.Type != ParameterStore) {
				t.Fatalf("accepted object %+v", o)
			}
			claim(o.FileName, o.Mode)
			for _, j := range o.JMESPath {
				claim(j.FileName, j.Mode)
			}
		}
		for p := range seen {
			for d := path.Dir(p); d != "."; d = path.Dir(d) {
				if seen[d] {
					t.Fatalf("file %q is also the directory of %q", d, p)
				}
			}
		}
		_ = c.CheckRegion("us-east-1") // must not panic
	})
}

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
			return // ParseClass refuses these before BuildFiles sees them
		}
		c := &Class{Objects: []Object{{
			Name: "db", Type: SecretsManager, FileName: "db", Mode: 0o644,
			JMESPath: []JMESPathFile{{Path: expr, FileName: "out", Mode: 0o600}},
		}}}
		var files []File
		var err error
		boundAllocations(t, func() { files, err = BuildFiles(c, []Value{{Data: value, Version: "v1"}}, 1<<20) })
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
			checkAcceptedPath(t, fl.Path)
			if fl.Version != "v1" {
				t.Fatalf("file %q has version %q, want the value's", fl.Path, fl.Version)
			}
		}
	})
}
