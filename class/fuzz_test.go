package class_test

import (
	"path"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
)

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
		{yamlLines("- objectName: db", "  objectType: secretsmanager", "  jsonKeysAsFiles: \"TRUE\"", "  optional: true",
			"  objectEncoding: Base64", "  jmesPath:", "    - {path: a, objectAlias: b, objectEncoding: hex}"), ""},
		{yamlLines("- objectName: db", "  objectType: ssmparameter", "  optional: yes", "  objectEncoding: [x]"), ""},
		{yamlLines("- objectNamePrefix: app/", "  objectType: secretsmanager", "  objectTags: {team: x, env: '1'}", "  maxObjects: 50",
			"  objectAlias: set", "  jmesPath: [{path: a, objectAlias: a}]", "- objectName: app/x", "  objectType: secretsmanager"), ""},
		{yamlLines("- objectPath: /app", "  objectType: ssmparameter", "  recursive: false", "  maxObjects: 1000"), "False"},
		{entries(101), ""},
		{withJMESPath("db", 101), ""},
	} {
		f.Add(seed.objects, seed.translation)
	}
	f.Fuzz(func(t *testing.T, objects, translation string) {
		var c *class.Class
		var err error
		testkit.BoundAllocations(t, func() {
			c, err = class.Parse(map[string]string{
				"objects":         objects,
				"pathTranslation": translation,
				"failoverRegion":  "us-west-2",
			}, 0o644, catalog)
		})
		if err != nil {
			if k := failure.KindOf(err); k != failure.InvalidArgument {
				t.Fatalf("Parse error of kind %v, want InvalidArgument: %v", k, err)
			}
			return
		}
		if len(c.Objects) == 0 {
			t.Fatal("Parse accepted a class without objects")
		}
		if len(objects) > class.MaxObjectsBytes || len(c.Objects) > class.MaxObjects {
			t.Fatalf("Parse accepted %d bytes of objects listing %d entries", len(objects), len(c.Objects))
		}
		files := 0
		for _, o := range c.Objects {
			if o.Listing != nil {
				if o.Listing.Max < 1 || o.Listing.Max > class.MaxListedObjects || o.Listing.Prefix == "" {
					t.Fatalf("accepted listing %+v", *o.Listing)
				}
				files += (o.Listing.Max - 1) * (1 + len(o.JMESPath))
			}
			files += 1 + len(o.JMESPath)
			if len(o.JMESPath) > class.MaxJMESPathEntries {
				t.Fatalf("Parse accepted %d jmesPath entries in one object", len(o.JMESPath))
			}
			for _, j := range o.JMESPath {
				if _, err := jmes.Compile(j.Path); err != nil || j.Expr == nil {
					t.Fatalf("Parse accepted the path %q unchecked", j.Path)
				}
			}
		}
		if files > class.MaxFiles {
			t.Fatalf("Parse accepted a class of %d files", files)
		}
		seen := map[string]bool{}
		claim := func(p string, mode int32) {
			testkit.CheckAcceptedPath(t, p)
			if seen[p] {
				t.Fatalf("two files share the path %q", p)
			}
			seen[p] = true
			if mode < 0 || mode > 0o777 {
				t.Fatalf("file %q has mode %#o", p, mode)
			}
		}
		for _, o := range c.Objects {
			if o.Name == "" || (o.Type != provider.SecretsManager && o.Type != provider.ParameterStore) {
				t.Fatalf("accepted object %+v", o)
			}
			if o.Listing != nil {
				// A set's files are named at Mount time, in the directory
				// objectAlias names ("" for the mount's top).
				if o.FileName != "" {
					testkit.CheckAcceptedPath(t, o.FileName)
				}
				continue
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
