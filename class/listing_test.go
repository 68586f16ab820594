package class_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestParseClassReadsListings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, object string
		want         class.Listing
		dir          string
	}{
		{"a prefix takes the defaults", "{objectNamePrefix: app/, objectType: secretsmanager}",
			class.Listing{Field: "objectNamePrefix", Prefix: "app/", Recursive: true, Max: 100}, ""},
		{"tags are sorted by key and maxObjects read", "{objectNamePrefix: app, objectType: secretsmanager, objectTags: {z: '1', a: b}, maxObjects: 7, objectAlias: dir/sub}",
			class.Listing{Field: "objectNamePrefix", Prefix: "app", Tags: []class.Tag{{Key: "a", Value: "b"}, {Key: "z", Value: "1"}}, Recursive: true, Max: 7}, "dir/sub"},
		{"a path is recursive unless it says otherwise", "{objectPath: /app, objectType: ssmparameter, recursive: false, maxObjects: 1000}",
			class.Listing{Field: "objectPath", Prefix: "/app", Recursive: false, Max: 1000}, ""},
		{"a null recursive keeps the default", "{objectPath: /app, objectType: ssmparameter, recursive: ~}",
			class.Listing{Field: "objectPath", Prefix: "/app", Recursive: true, Max: 100}, ""},
		{"field names in any case, like the others", "{OBJECTNAMEPREFIX: p-, objecttype: secretsmanager}",
			class.Listing{Field: "objectNamePrefix", Prefix: "p-", Recursive: true, Max: 100}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := mustParse(t, mountAttrs("- "+tc.object)).Objects[0]
			if o.Listing == nil {
				t.Fatal("not parsed as a listing")
			}
			got := *o.Listing
			if got.Field != tc.want.Field || got.Prefix != tc.want.Prefix || got.Recursive != tc.want.Recursive || got.Max != tc.want.Max ||
				fmt.Sprint(got.Tags) != fmt.Sprint(tc.want.Tags) || o.FileName != tc.dir || o.Name != tc.want.Prefix {
				t.Errorf("listing = %+v (name %q, dir %q), want %+v (dir %q)", got, o.Name, o.FileName, tc.want, tc.dir)
			}
		})
	}
}

func TestParseClassRefusesBadListings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, objects string
		want          []string
	}{
		{"a prefix and a name both set", "- {objectName: db, objectNamePrefix: app/, objectType: secretsmanager}",
			[]string{"objects[0]", "objectName and objectNamePrefix are both set"}},
		{"a prefix and a path both set", "- {objectPath: /a, objectNamePrefix: app/, objectType: secretsmanager}",
			[]string{"objects[0]", "objectNamePrefix and objectPath are both set"}},
		{"an empty prefix", "- {objectNamePrefix: '', objectType: secretsmanager}",
			[]string{"objects[0]", "objectNamePrefix is empty"}},
		{"a null prefix", "- {objectNamePrefix: ~, objectType: secretsmanager}",
			[]string{"objects[0]", "objectNamePrefix is empty"}},
		{"a prefix that is a list", "- {objectNamePrefix: [a], objectType: secretsmanager}",
			[]string{"objects[0]", "objectNamePrefix must be a string"}},
		{"a prefix without objectType", "- {objectNamePrefix: app/}",
			[]string{`objects[0] "app/"`, "objectType is missing"}},
		{"a prefix AWS would read as a negation", "- {objectNamePrefix: '!app', objectType: secretsmanager}",
			[]string{`objects[0] "!app"`, "objectNamePrefix", "no secret name has"}},
		{"a prefix for parameters", "- {objectNamePrefix: /app, objectType: ssmparameter}",
			[]string{`objects[0] "/app"`, "SSM parameters are listed with objectPath, not objectNamePrefix"}},
		{"a path for secrets", "- {objectPath: /app, objectType: secretsmanager}",
			[]string{`objects[0] "/app"`, "Secrets Manager secrets are listed with objectNamePrefix, not objectPath"}},
		{"a path that is not absolute", "- {objectPath: app/prod, objectType: ssmparameter}",
			[]string{`objects[0] "app/prod"`, `objectPath "app/prod" is not an absolute path`}},
		{"a path with a character no parameter has", "- {objectPath: '/app prod', objectType: ssmparameter}",
			[]string{`objects[0] "/app prod"`, "no parameter name has"}},
		{"tags that are a list", "- {objectNamePrefix: app/, objectType: secretsmanager, objectTags: [team]}",
			[]string{`objects[0] "app/"`, "objectTags must be a mapping", "not a list"}},
		{"tags that are a string", "- {objectNamePrefix: app/, objectType: secretsmanager, objectTags: team=payments}",
			[]string{"objectTags must be a mapping", `not the string "team=payments"`}},
		{"a tag whose value is a mapping", "- {objectNamePrefix: app/, objectType: secretsmanager, objectTags: {team: {a: b}}}",
			[]string{`objectTags "team" must be a string`, "not a mapping"}},
		{"a tag without a value", "- {objectNamePrefix: app/, objectType: secretsmanager, objectTags: {team: }}",
			[]string{`objectTags "team" must be a string`, "not null"}},
		{"more than ten tags", "- {objectNamePrefix: app/, objectType: secretsmanager, objectTags: {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, i: 1, j: 1, k: 1}}",
			[]string{"objectTags lists 11 tags, more than the 10 allowed"}},
		{"tags on a path", "- {objectPath: /app, objectType: ssmparameter, objectTags: {a: b}}",
			[]string{"objectTags cannot be used with objectPath"}},
		{"recursive on a prefix", "- {objectNamePrefix: app/, objectType: secretsmanager, recursive: false}",
			[]string{"recursive cannot be used with objectNamePrefix"}},
		{"recursive that is not a boolean", "- {objectPath: /app, objectType: ssmparameter, recursive: maybe}",
			[]string{"recursive must be true or false"}},
		{"maxObjects of zero", "- {objectNamePrefix: app/, objectType: secretsmanager, maxObjects: 0}",
			[]string{"maxObjects must be a whole number from 1 to 1000, not the number 0"}},
		{"maxObjects over the bound", "- {objectNamePrefix: app/, objectType: secretsmanager, maxObjects: 1001}",
			[]string{"maxObjects must be a whole number from 1 to 1000"}},
		{"maxObjects that is a string", "- {objectNamePrefix: app/, objectType: secretsmanager, maxObjects: many}",
			[]string{"maxObjects must be a whole number", `not the string "many"`}},
		{"a pinned version on a listing", "- {objectNamePrefix: app/, objectType: secretsmanager, objectVersion: v1}",
			[]string{"objectVersion cannot be used with objectNamePrefix"}},
		{"a label on a listing", "- {objectPath: /app, objectType: ssmparameter, objectVersionLabel: prod}",
			[]string{"objectVersionLabel cannot be used with objectPath"}},
		{"a failover object on a listing", "- {objectNamePrefix: app/, objectType: secretsmanager, failoverObject: {objectName: x}}",
			[]string{"failoverObject cannot be used with objectNamePrefix"}},
		{"listing fields on a named object", "- {objectName: db, objectType: secretsmanager, maxObjects: 5}",
			[]string{`objects[0] "db"`, "maxObjects applies only to an object listed by objectNamePrefix or objectPath"}},
		{"a directory that leaves the mount", "- {objectNamePrefix: app/, objectType: secretsmanager, objectAlias: ../up}",
			[]string{"objectAlias \"../up\" is the directory of the listed files"}},
		{"listings that could write more files than a class may", "- {objectNamePrefix: a/, objectType: secretsmanager, maxObjects: 600}\n- {objectNamePrefix: b/, objectType: secretsmanager, maxObjects: 600}",
			[]string{`objects[1] "b/"`, "maxObjects 600", "more than 1000 files"}},
		{"a listing whose jmesPath files could pass the bound", "- {objectNamePrefix: a/, objectType: secretsmanager, maxObjects: 600, jmesPath: [{path: a, objectAlias: a}]}",
			[]string{"each match writing 2 files"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := class.Parse(mountAttrs(tc.objects), driverMode, catalog)
			if failure.KindOf(err) != failure.InvalidArgument {
				t.Fatalf("Parse = %v, want InvalidArgument", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n  does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEachMemberIsNamedByTheRestOfItsName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, params, object, member, file, dir string
	}{
		{"the rest after a prefix, translated", "", "{objectNamePrefix: app/, objectType: secretsmanager}", "app/db/user", "db_user", ""},
		{"under objectAlias as a directory", "", "{objectNamePrefix: app/, objectType: secretsmanager, objectAlias: creds/x}", "app/db", "creds/x/db", ""},
		{"a prefix that ends inside a word", "", "{objectNamePrefix: app, objectType: secretsmanager}", "app-prod/db", "-prod_db", ""},
		{"without the slash that follows the prefix", "", "{objectNamePrefix: app, objectType: secretsmanager}", "app/db", "db", ""},
		{"the prefix itself, named as objectName would be", "", "{objectNamePrefix: app/db, objectType: secretsmanager}", "app/db", "app_db", ""},
		{"nested below a path without translation", "False", "{objectPath: /app, objectType: ssmparameter}", "/app/db/user", "db/user", ""},
		{"translated below a path with another character", "-", "{objectPath: /app/, objectType: ssmparameter}", "/app/db/user", "db-user", ""},
		{"a directory when read as JSON", "", "{objectNamePrefix: app/, objectType: secretsmanager, objectAlias: c, jmesPath: [{path: u, objectAlias: user}]}", "app/db", "c/db", "c/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mountAttrs("- " + tc.object)
			if tc.params != "" {
				p["pathTranslation"] = tc.params
			}
			c := mustParse(t, p)
			m, err := c.Member(&c.Objects[0], tc.member)
			if err != nil {
				t.Fatal(err)
			}
			if m.FileName != tc.file || m.Dir != tc.dir || m.Listing != nil || m.Name != tc.member {
				t.Errorf("member = file %q dir %q name %q, want file %q dir %q", m.FileName, m.Dir, m.Name, tc.file, tc.dir)
			}
			if tc.dir != "" && m.JMESPath[0].FileName != tc.dir+"/user" {
				t.Errorf("jmesPath file = %q, want it in the member's directory", m.JMESPath[0].FileName)
			}
		})
	}
	t.Run("a name that gives no valid file is refused, naming the listing and the match", func(t *testing.T) {
		t.Parallel()
		p := mountAttrs("- {objectPath: /app, objectType: ssmparameter}")
		p["pathTranslation"] = "False"
		c := mustParse(t, p)
		_, err := c.Member(&c.Objects[0], "/app/..data/x")
		if err == nil || !strings.Contains(err.Error(), `objects[0] "/app" match "/app/..data/x"`) {
			t.Errorf("Member = %v", err)
		}
	})
}
