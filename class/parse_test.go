package class_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
)

const (
	smARN      = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	smARNWest  = "arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf"
	ssmARN     = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db"
	driverMode = int32(420) // the driver's default `permission`, 0644
)

var (
	yamlLines  = testkit.YAMLLines
	mountAttrs = testkit.ClassAttributes
)

// catalog is the daemon's: provider's services and auth's modes.
var catalog = class.Catalog{Services: provider.Services(), Modes: auth.Modes()}

// oneSecret is a class with a single well-formed Secrets Manager object "db".
var oneSecret = yamlLines("- objectName: db", "  objectType: secretsmanager")

func mustParse(t *testing.T, p map[string]string) *class.Class {
	t.Helper()
	c, err := class.Parse(p, driverMode, catalog)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestParseClassAcceptsEveryField(t *testing.T) {
	t.Parallel()
	objects := yamlLines(
		"- objectName: "+smARN,
		"  objectAlias: db-creds",
		"  objectVersion: v1",
		"  objectVersionLabel: AWSCURRENT",
		"  filePermission: \"0640\"",
		"  jmesPath:",
		"    - path: username",
		"      objectAlias: db-user",
		"    - path: credentials.password",
		"      objectAlias: db-pass",
		"      filePermission: \"0400\"",
		"  failoverObject:",
		"    objectName: arn:aws:secretsmanager:us-west-2:123456789012:secret:db-replica-XyZ",
		"    objectVersion: v1",
		"- objectName: /app/config",
		"  objectType: ssmparameter",
		"  objectVersion: \"7\"",
		"- objectName: app-flag",
		"  objectType: ssmparameter",
		"  objectVersionLabel: prod",
		"  jsonKeysAsFiles: true",
		"  optional: true",
		"  objectEncoding: base64",
	)
	c := mustParse(t, mountAttrs(objects,
		"region", "us-east-1",
		"failoverRegion", "us-west-2",
		"pathTranslation", "-",
		"usePodIdentity", "true",
		"preferredAddressType", "IPv6",
	))
	want := &class.Class{
		Region:               "us-east-1",
		FailoverRegion:       "us-west-2",
		PathTranslation:      "-",
		Mode:                 auth.ModePodIdentity,
		PreferredAddressType: "ipv6",
		Objects: []class.Object{
			{
				Index: 0, Name: smARN, Type: provider.SecretsManager, Alias: "db-creds",
				Version: "v1", VersionLabel: "AWSCURRENT", Mode: 0o640, FileName: "db-creds",
				JMESPath: []class.JMESPathFile{
					{Path: "username", FileName: "db-user", Mode: 0o640},
					{Path: "credentials.password", FileName: "db-pass", Mode: 0o400},
				},
				Failover: &class.FailoverObject{
					Name:         "arn:aws:secretsmanager:us-west-2:123456789012:secret:db-replica-XyZ",
					Version:      "v1",
					VersionLabel: "AWSCURRENT",
				},
			},
			{Index: 1, Name: "/app/config", Type: provider.ParameterStore, Version: "7", Mode: 0o644, FileName: "-app-config"},
			{Index: 2, Name: "app-flag", Type: provider.ParameterStore, VersionLabel: "prod", Mode: 0o644, FileName: "app-flag",
				JSONKeysAsFiles: true, Optional: true, Encoding: class.EncodingBase64},
		},
	}
	for _, o := range c.Objects {
		for j := range o.JMESPath {
			if o.JMESPath[j].Expr == nil {
				t.Errorf("%s jmesPath[%d] was not compiled", o.Label(), j)
			}
			o.JMESPath[j].Expr = nil // compared below by its path
		}
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	if err := c.CheckRegion("us-east-1"); err != nil {
		t.Errorf("CheckRegion(us-east-1) = %v, want nil", err)
	}
}

func TestParseClassDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, mountAttrs(oneSecret))
	want := &class.Class{
		PathTranslation:      "_",
		Mode:                 auth.ModeIRSA,
		PreferredAddressType: "auto",
		Objects:              []class.Object{{Index: 0, Name: "db", Type: provider.SecretsManager, Mode: 0o644, FileName: "db"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
}

func TestParseClassFileNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		translation string
		objects     string
		want        []string // file names, objects then their jmesPath entries
	}{
		{"slashes become underscores by default", "", yamlLines("- objectName: app/db/pass", "  objectType: secretsmanager"), []string{"app_db_pass"}},
		{"a leading slash is translated too when translation is on", "", yamlLines("- objectName: /app/db", "  objectType: ssmparameter"), []string{"_app_db"}},
		{"a multi-byte translation character is one character", "é", yamlLines("- objectName: a/b", "  objectType: secretsmanager"), []string{"aéb"}},
		{"False turns translation off and keeps nested paths", "False", yamlLines("- objectName: app/db/pass", "  objectType: secretsmanager"), []string{"app/db/pass"}},
		{"false in lower case turns translation off", "false", yamlLines("- objectName: app/db", "  objectType: secretsmanager"), []string{"app/db"}},
		{"FALSE in upper case turns translation off", "FALSE", yamlLines("- objectName: app/db", "  objectType: secretsmanager"), []string{"app/db"}},
		{"a leading slash is dropped when translation is off", "False", yamlLines("- objectName: /app/db", "  objectType: ssmparameter"), []string{"app/db"}},
		{"every leading slash is dropped, as in the reference", "False", yamlLines("- objectName: //app", "  objectType: ssmparameter"), []string{"app"}},
		{"an alias wins over the object name", "", yamlLines("- objectName: app/db", "  objectType: secretsmanager", "  objectAlias: creds"), []string{"creds"}},
		{"jmesPath aliases are translated like object names", "", yamlLines(
			"- objectName: db", "  objectType: secretsmanager",
			"  jmesPath:", "    - path: user", "      objectAlias: db/user"), []string{"db", "db_user"}},
		{"jmesPath aliases may be nested when translation is off", "false", yamlLines(
			"- objectName: db", "  objectType: secretsmanager", "  objectAlias: db/all",
			"  jmesPath:", "    - path: user", "      objectAlias: db/user"), []string{"db/all", "db/user"}},
		{"an ARN without an alias names its file", "", yamlLines("- objectName: " + smARN), []string{smARN}},
		{"names that only look like dots are fine", "", yamlLines("- objectName: .env", "  objectType: secretsmanager", "- objectName: a..b", "  objectType: secretsmanager"), []string{".env", "a..b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mountAttrs(tc.objects)
			if tc.translation != "" {
				p["pathTranslation"] = tc.translation
			}
			c := mustParse(t, p)
			var got []string
			for _, o := range c.Objects {
				got = append(got, o.FileName)
				for _, j := range o.JMESPath {
					got = append(got, j.FileName)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("file names = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseClassInfersTypeFromARNsInEveryPartition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		arn, region string
		want        class.ObjectType
	}{
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", "us-east-1", provider.SecretsManager},
		{"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf", "cn-north-1", provider.SecretsManager},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db-AbCdEf", "us-gov-west-1", provider.SecretsManager},
		{"arn:aws-iso:secretsmanager:us-iso-east-1:123456789012:secret:db-AbCdEf", "us-iso-east-1", provider.SecretsManager},
		{"arn:aws-iso-b:secretsmanager:us-isob-east-1:123456789012:secret:db-AbCdEf", "us-isob-east-1", provider.SecretsManager},
		{"arn:aws-iso-e:ssm:eu-isoe-west-1:123456789012:parameter/app/db", "eu-isoe-west-1", provider.ParameterStore},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/app/db", "us-east-1", provider.ParameterStore},
		{"arn:aws-cn:ssm:cn-northwest-1:123456789012:parameter/flag", "cn-northwest-1", provider.ParameterStore},
	} {
		t.Run("an ARN in "+tc.region+" reads as "+string(tc.want), func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, mountAttrs(yamlLines("- objectName: "+tc.arn), "region", tc.region))
			if got := c.Objects[0].Type; got != tc.want {
				t.Errorf("Type = %q, want %q", got, tc.want)
			}
			if err := c.CheckRegion(tc.region); err != nil {
				t.Errorf("CheckRegion(%q) = %v", tc.region, err)
			}
		})
	}
	t.Run("an objectType that agrees with the ARN is accepted", func(t *testing.T) {
		t.Parallel()
		c := mustParse(t, mountAttrs(yamlLines("- objectName: "+ssmARN, "  objectType: ssmparameter")))
		if c.Objects[0].Type != provider.ParameterStore {
			t.Errorf("Type = %q", c.Objects[0].Type)
		}
	})
}

func TestParseClassModes(t *testing.T) {
	t.Parallel()
	objects := yamlLines(
		"- objectName: a", "  objectType: secretsmanager",
		"  jmesPath:", "    - path: x", "      objectAlias: a-x",
		"- objectName: b", "  objectType: secretsmanager", "  filePermission: \"0600\"",
		"  jmesPath:", "    - path: x", "      objectAlias: b-x",
		"    - path: y", "      objectAlias: b-y", "      filePermission: \"0444\"",
		"- objectName: c", "  objectType: secretsmanager", "  filePermission: '0000'",
	)
	c, err := class.Parse(mountAttrs(objects), 0o440, catalog)
	if err != nil {
		t.Fatal(err)
	}
	got := []int32{c.Objects[0].Mode, c.Objects[0].JMESPath[0].Mode, c.Objects[1].Mode, c.Objects[1].JMESPath[0].Mode, c.Objects[1].JMESPath[1].Mode, c.Objects[2].Mode}
	want := []int32{0o440, 0o440, 0o600, 0o600, 0o444, 0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("modes = %#o, want %#o (driver default, jmesPath inherits the object's, explicit wins)", got, want)
	}
}

func TestParseClassParameters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		kv     []string
		podID  bool
		family string
	}{
		{"usePodIdentity 1 means true", []string{"usePodIdentity", "1"}, true, "auto"},
		{"usePodIdentity t means true", []string{"usePodIdentity", "t"}, true, "auto"},
		{"usePodIdentity TRUE means true", []string{"usePodIdentity", "TRUE"}, true, "auto"},
		{"usePodIdentity True means true", []string{"usePodIdentity", "True"}, true, "auto"},
		{"usePodIdentity 0 means false", []string{"usePodIdentity", "0"}, false, "auto"},
		{"usePodIdentity F means false", []string{"usePodIdentity", "F"}, false, "auto"},
		{"preferredAddressType IPV4 means ipv4", []string{"preferredAddressType", "IPV4"}, false, "ipv4"},
		{"preferredAddressType ipv6 means ipv6", []string{"preferredAddressType", "ipv6"}, false, "ipv6"},
		{"an unknown preferredAddressType means auto, like the reference", []string{"preferredAddressType", "ipv5"}, false, "auto"},
		{"an explicit auto means auto", []string{"preferredAddressType", "auto"}, false, "auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, mountAttrs(oneSecret, tc.kv...))
			mode := auth.ModeIRSA
			if tc.podID {
				mode = auth.ModePodIdentity
			}
			if c.Mode != mode || c.PreferredAddressType != tc.family {
				t.Errorf("Mode, PreferredAddressType = %q, %q; want %q, %q", c.Mode, c.PreferredAddressType, mode, tc.family)
			}
		})
	}
}

// TestParseClassIsLenientWhereTheReferenceIs covers classes that work with
// the reference provider in ways a strict parser would break.
func TestParseClassIsLenientWhereTheReferenceIs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		params map[string]string
		check  func(t *testing.T, c *class.Class)
	}{
		{"keys match without regard to case, as encoding/json does", mountAttrs(yamlLines("- ObjectName: db", "  objecttype: secretsmanager", "  OBJECTALIAS: x")),
			func(t *testing.T, c *class.Class) {
				if o := c.Objects[0]; o.Name != "db" || o.Type != provider.SecretsManager || o.FileName != "x" {
					t.Errorf("object = %+v", o)
				}
			}},
		{"unknown keys such as objectTemplate are ignored", mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager", "  objectTemplate: '{{ .x }}'", "  comment: hi")),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].Name != "db" {
					t.Errorf("object = %+v", c.Objects[0])
				}
			}},
		{"an unquoted SSM version number is taken as written", mountAttrs(yamlLines("- objectName: p", "  objectType: ssmparameter", "  objectVersion: 3")),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].Version != "3" {
					t.Errorf("Version = %q, want \"3\"", c.Objects[0].Version)
				}
			}},
		{"the objectType may be written in any case", mountAttrs(yamlLines("- objectName: db", "  objectType: SecretsManager")),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].Type != provider.SecretsManager {
					t.Errorf("Type = %q", c.Objects[0].Type)
				}
			}},
		{"a JSON list is YAML too", mountAttrs(`[{"objectName": "db", "objectType": "secretsmanager", "filePermission": "0600"}]`),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].Mode != 0o600 {
					t.Errorf("Mode = %#o", c.Objects[0].Mode)
				}
			}},
		{"anchors and merge keys are followed", mountAttrs(yamlLines(
			"- &base", "  objectType: secretsmanager", "  objectName: a", "  filePermission: \"0600\"",
			"- <<: *base", "  objectName: b")),
			func(t *testing.T, c *class.Class) {
				if o := c.Objects[1]; o.Name != "b" || o.Type != provider.SecretsManager || o.Mode != 0o600 {
					t.Errorf("object = %+v", o)
				}
			}},
		{"null fields are empty", mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager", "  objectAlias: ~", "  jmesPath:", "  failoverObject:")),
			func(t *testing.T, c *class.Class) {
				if o := c.Objects[0]; o.FileName != "db" || o.JMESPath != nil || o.Failover != nil {
					t.Errorf("object = %+v", o)
				}
			}},
		{"the same object twice with distinct aliases is fine", mountAttrs(yamlLines(
			"- objectName: db", "  objectType: secretsmanager", "  objectAlias: current",
			"- objectName: db", "  objectType: secretsmanager", "  objectAlias: previous", "  objectVersionLabel: AWSPREVIOUS")),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].FileName != "current" || c.Objects[1].FileName != "previous" {
					t.Errorf("objects = %+v", c.Objects)
				}
			}},
		{"a plain and a labelled read of one secret are fine when the labelled one has an alias", mountAttrs(yamlLines(
			"- objectName: db", "  objectType: secretsmanager",
			"- objectName: db", "  objectType: secretsmanager", "  objectVersionLabel: AWSCURRENT", "  objectAlias: db-current")),
			func(t *testing.T, c *class.Class) {
				if len(c.Objects) != 2 {
					t.Errorf("objects = %+v", c.Objects)
				}
			}},
		{"a nested path may share a directory with another", mountAttrs(yamlLines(
			"- objectName: app/a", "  objectType: secretsmanager",
			"- objectName: app/b", "  objectType: secretsmanager"), "pathTranslation", "False"),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].FileName != "app/a" || c.Objects[1].FileName != "app/b" {
					t.Errorf("objects = %+v", c.Objects)
				}
			}},
		{"an empty failoverObject means none", mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager", "  failoverObject: {}")),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].Failover != nil {
					t.Errorf("Failover = %+v", c.Objects[0].Failover)
				}
			}},
		{"a failoverObject with only a label keeps the name and needs no alias", mountAttrs(yamlLines(
			"- objectName: db", "  objectType: secretsmanager", "  objectVersionLabel: AWSCURRENT",
			"  failoverObject:", "    objectVersionLabel: AWSPREVIOUS"), "failoverRegion", "us-west-2"),
			func(t *testing.T, c *class.Class) {
				want := &class.FailoverObject{Name: "db", VersionLabel: "AWSPREVIOUS"}
				if !reflect.DeepEqual(c.Objects[0].Failover, want) {
					t.Errorf("Failover = %+v, want %+v", c.Objects[0].Failover, want)
				}
			}},
		{"a failoverObject with only a label is ignored without failoverRegion, as in the reference", mountAttrs(yamlLines(
			"- objectName: db", "  objectType: secretsmanager",
			"  failoverObject:", "    objectVersionLabel: AWSPREVIOUS")),
			func(t *testing.T, c *class.Class) {
				if c.Objects[0].Failover != nil {
					t.Errorf("Failover = %+v, want nil", c.Objects[0].Failover)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, mustParse(t, tc.params))
		})
	}
}

func TestCheckRegionChangesNothing(t *testing.T) {
	t.Parallel()
	c := mustParse(t, mountAttrs(yamlLines("- objectName: "+smARN, "  objectAlias: db",
		"  failoverObject:", "    objectName: "+smARNWest), "failoverRegion", "us-west-2"))
	before := *c
	if err := c.CheckRegion("us-east-1"); err != nil {
		t.Fatalf("CheckRegion = %v", err)
	}
	if err := c.CheckRegion("eu-west-1"); err == nil {
		t.Fatal("CheckRegion(eu-west-1) accepted an ARN in us-east-1")
	}
	if !reflect.DeepEqual(*c, before) || c.Region != "" {
		t.Errorf("CheckRegion changed the class: %+v, was %+v", *c, before)
	}
}

// badCase is one input that must be refused with a message naming the
// field (and the object), so a user can fix the class from the pod events.
type badCase struct {
	name string
	// params are the Mount attributes.
	params map[string]string
	// region, when set, is passed to CheckRegion after Parse succeeded.
	region string
	kind   failure.Kind
	want   []string
	// secret must not appear in the error.
	secret string
}

func TestParseClassRefusesBadInput(t *testing.T) {
	t.Parallel()
	runBadCases(t, parseBadCases())
}

func parseBadCases() []badCase {
	sm := "  objectType: secretsmanager"
	ssm := "  objectType: ssmparameter"
	off := []string{"pathTranslation", "False"}
	return []badCase{
		// The objects list itself.
		{name: "malformed objects YAML is refused with the YAML error and its line",
			params: mountAttrs(yamlLines("- objectName: db", "  jmesPath: [", "- objectName: x")),
			want:   []string{"objects is not valid YAML", "line "}},
		{name: "badly indented objects YAML is refused",
			params: mountAttrs("- objectName: db\n objectType: secretsmanager\n"),
			want:   []string{"objects is not valid YAML", "line "}},
		{name: "objects written as a mapping is refused",
			params: mountAttrs(yamlLines("objectName: db", "objectType: secretsmanager")),
			want:   []string{"objects must be a YAML list", "not a mapping"}},
		{name: "objects written as a plain string is refused",
			params: mountAttrs("db"),
			want:   []string{"objects must be a YAML list", `the string "db"`}},
		{name: "an empty objects parameter says the class lists no objects",
			params: mountAttrs(""),
			want:   []string{"the SecretProviderClass lists no objects"}},
		{name: "an empty objects list says the class lists no objects",
			params: mountAttrs("[]"),
			want:   []string{"the SecretProviderClass lists no objects"}},
		{name: "an objects parameter with only a comment says the class lists no objects",
			params: mountAttrs("# to do\n"),
			want:   []string{"the SecretProviderClass lists no objects"}},
		{name: "a class without objects says it lists no objects",
			params: map[string]string{"region": "us-east-1"},
			want:   []string{"the SecretProviderClass lists no objects"}},
		{name: "an empty entry is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "-")),
			want:   []string{"objects[1] is empty"}},
		{name: "an empty mapping entry is refused",
			params: mountAttrs("- {}\n"),
			want:   []string{"objects[0] is empty"}},
		{name: "an entry that is a string is refused",
			params: mountAttrs("- db\n"),
			want:   []string{"objects[0] must be a mapping", `the string "db"`}},
		{name: "an entry without objectName is refused",
			params: mountAttrs(yamlLines("- objectAlias: db", sm)),
			want:   []string{"objects[0] has no objectName"}},
		{name: "merge keys nested into a billion laughs are refused quickly",
			params: mountAttrs(billionLaughs()),
			want:   []string{"objects[0]: merge keys (<<) pull in more than 1000 mappings"}},
		{name: "an objectName that is a list is refused",
			params: mountAttrs(yamlLines("- objectName: [a, b]", sm)),
			want:   []string{"objects[0]", "objectName must be a string, not a list"}},

		// Types and ARNs.
		{name: "an unknown objectType is refused",
			params: mountAttrs(yamlLines("- objectName: db", "  objectType: ssm")),
			want:   []string{`objects[0] "db": objectType "ssm" is unknown`, "secretsmanager or ssmparameter"}},
		{name: "a missing objectType with a plain name is refused",
			params: mountAttrs(yamlLines("- objectName: db")),
			want:   []string{`objects[0] "db": objectType is missing`}},
		{name: "a Secrets Manager ARN with objectType ssmparameter is refused",
			params: mountAttrs(yamlLines("- objectName: "+smARN, ssm)),
			want:   []string{`objects[0] "` + smARN + `": objectType "ssmparameter" does not match the ARN`}},
		{name: "an SSM ARN with objectType secretsmanager is refused",
			params: mountAttrs(yamlLines("- objectName: "+ssmARN, sm)),
			want:   []string{`objects[0] "` + ssmARN + `": objectType "secretsmanager" does not match the ARN`}},
		{name: "an ARN of another service is refused",
			params: mountAttrs(yamlLines("- objectName: arn:aws:s3:us-east-1:123456789012:bucket/x")),
			want:   []string{"objects[0]", `ARN service "s3" is neither secretsmanager nor ssm`}},
		{name: "a truncated ARN is refused",
			params: mountAttrs(yamlLines("- objectName: arn:aws:secretsmanager:us-east-1")),
			want:   []string{"objects[0]", "is not a valid ARN"}},
		{name: "an ARN in an unknown partition is refused",
			params: mountAttrs(yamlLines("- objectName: arn:gcp:secretsmanager:us-east-1:123456789012:secret:db")),
			want:   []string{"objects[0]", `ARN partition "gcp"`}},
		{name: "an SSM ARN that is not a parameter is refused",
			params: mountAttrs(yamlLines("- objectName: arn:aws:ssm:us-east-1:123456789012:document/x")),
			want:   []string{"objects[0]", "does not name a parameter"}},
		{name: "a Secrets Manager ARN that is not a secret is refused",
			params: mountAttrs(yamlLines("- objectName: arn:aws:secretsmanager:us-east-1:123456789012:db")),
			want:   []string{"objects[0]", "does not name a secret"}},
		{name: "an ARN in another region than the class's region is refused",
			params: mountAttrs(yamlLines("- objectName: "+smARNWest), "region", "us-east-1"),
			want:   []string{`objects[0] "` + smARNWest + `"`, `"us-west-2"`, `"us-east-1"`}},
		{name: "a failover ARN in another region than failoverRegion is refused",
			params: mountAttrs(yamlLines("- objectName: "+smARN, "  objectAlias: db", "  failoverObject:", "    objectName: "+smARN),
				"region", "us-east-1", "failoverRegion", "us-west-2"),
			want: []string{`objects[0] "` + smARN + `": failoverObject ARN`, `"us-east-1"`, `failoverRegion is "us-west-2"`}},
		{name: "a failover ARN of another service is refused",
			params: mountAttrs(yamlLines("- objectName: "+smARN, "  objectAlias: db", "  failoverObject:",
				"    objectName: arn:aws:ssm:us-west-2:123456789012:parameter/db"), "failoverRegion", "us-west-2"),
			want: []string{`objects[0] "` + smARN + `": failoverObject ARN names a ssmparameter object`}},

		// Regions.
		{name: "a failoverRegion equal to region is refused",
			params: mountAttrs(oneSecret, "region", "us-east-1", "failoverRegion", "us-east-1"),
			want:   []string{`failoverRegion "us-east-1" is the same as region`}},
		{name: "a region without a number is refused",
			params: mountAttrs(oneSecret, "region", "us-east"),
			want:   []string{`region "us-east" is not an AWS region name`}},
		{name: "a region in upper case is refused",
			params: mountAttrs(oneSecret, "region", "US-EAST-1"),
			want:   []string{`region "US-EAST-1" is not an AWS region name`}},
		{name: "a region that would change the endpoint host is refused",
			params: mountAttrs(oneSecret, "region", "us-east-1.evil.example"),
			want:   []string{`region "us-east-1.evil.example" is not an AWS region name`}},
		{name: "a failoverRegion that is not a region name is refused",
			params: mountAttrs(oneSecret, "failoverRegion", "mars"),
			want:   []string{`failoverRegion "mars" is not an AWS region name`}},

		// File names.
		{name: "an alias climbing out of the mount is refused even when translated",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: ../etc/passwd")),
			want:   []string{`objects[0] "db": objectAlias gives file name ".._etc_passwd"`, `starts with ".."`}},
		{name: "an alias of two dots is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: ..")),
			want:   []string{`objects[0] "db": objectAlias gives file name ".."`, `".." segment`}},
		{name: "a name with .. segments is refused when translation is off",
			params: mountAttrs(yamlLines("- objectName: a/../../etc/shadow", sm), off...),
			want:   []string{`objects[0] "a/../../etc/shadow": objectName gives file name`, `".." segment`}},
		{name: "an alias ending in .. is refused when translation is off",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: a/.."), off...),
			want:   []string{`objects[0] "db": objectAlias gives file name "a/.."`, `".." segment`}},
		{name: "an absolute path is refused",
			params: mountAttrs(yamlLines("- objectName: /etc/passwd", sm), "pathTranslation", "/"),
			want:   []string{`objects[0] "/etc/passwd": objectName gives file name "/etc/passwd"`, "absolute path"}},
		{name: "a doubled slash is refused when translation is off",
			params: mountAttrs(yamlLines("- objectName: a//b", sm), off...),
			want:   []string{`objects[0] "a//b"`, "empty segment"}},
		{name: "a dot segment is refused when translation is off",
			params: mountAttrs(yamlLines("- objectName: a/./b", sm), off...),
			want:   []string{`objects[0] "a/./b"`, `"." segment`}},
		{name: "a trailing slash is refused when translation is off",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: dir/"), off...),
			want:   []string{`objects[0] "db": objectAlias gives file name "dir/"`, "empty segment"}},
		{name: "a name of only slashes is refused when translation is off",
			params: mountAttrs(yamlLines("- objectName: /", sm), off...),
			want:   []string{`objects[0] "/": objectName gives file name ""`, "is empty"}},
		{name: "a file name longer than the driver allows is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: "+strings.Repeat("x", 256))),
			want:   []string{`objects[0] "db": objectAlias`, "longer than 255 bytes"}},
		{name: "a jmesPath alias climbing out of the mount is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: user", "      objectAlias: ../user"), off...),
			want:   []string{`objects[0] "db": jmesPath[0]: objectAlias gives file name "../user"`, `".." segment`}},

		// Collisions.
		{name: "a/b and a_b colliding after translation are refused, naming both",
			params: mountAttrs(yamlLines("- objectName: a/b", sm, "- objectName: a_b", sm)),
			want:   []string{`objects[1] "a_b" and objects[0] "a/b" would both write file "a_b"; give one an objectAlias`}},
		{name: "a jmesPath alias equal to another object's file is refused, naming both",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: user", "      objectAlias: other", "- objectName: other", sm)),
			want:   []string{`objects[1] "other" and objects[0] "db" jmesPath[0] would both write file "other"`}},
		{name: "a jmesPath alias equal to its own object's file is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: user", "      objectAlias: db")),
			want:   []string{`objects[0] "db" jmesPath[0] and objects[0] "db" would both write file "db"`}},
		{name: "two jmesPath entries with one alias are refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: user", "      objectAlias: u", "    - path: name", "      objectAlias: u")),
			want:   []string{`objects[0] "db" jmesPath[1] and objects[0] "db" jmesPath[0] would both write file "u"`}},
		{name: "the same object twice with different labels and no alias is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectVersionLabel: AWSCURRENT", "- objectName: db", sm, "  objectVersionLabel: AWSPREVIOUS")),
			want:   []string{`objects[1] "db" and objects[0] "db" would both write file "db"`, "distinct objectAlias"}},
		{name: "the same object twice without alias or label is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "- objectName: db", sm)),
			want:   []string{`objects[1] "db" and objects[0] "db" would both write file "db"`}},
		{name: "the same object twice with one alias is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: x", "- objectName: db", sm, "  objectAlias: x", "  objectVersionLabel: AWSPREVIOUS")),
			want:   []string{`objects[1] "db" and objects[0] "db" would both write file "x"`}},
		{name: "two objects with one alias are refused",
			params: mountAttrs(yamlLines("- objectName: a", sm, "  objectAlias: x", "- objectName: b", ssm, "  objectAlias: x")),
			want:   []string{`objects[1] "b" and objects[0] "a" would both write file "x"; give one a different objectAlias`}},
		{name: "a file that another needs as its directory is refused",
			params: mountAttrs(yamlLines("- objectName: a", sm, "- objectName: a/b", sm), off...),
			want:   []string{`objects[0] "a" writes file "a", but objects[1] "a/b" needs "a" to be a directory`}},
		{name: "a directory listed before the file in its place is refused",
			params: mountAttrs(yamlLines("- objectName: a/b/c", sm, "- objectName: x", sm, "  objectAlias: a/b"), off...),
			want:   []string{`objects[1] "x" writes file "a/b", but objects[0] "a/b/c" needs "a/b" to be a directory`}},

		// filePermission.
		{name: "a three-digit filePermission is refused",
			params: mountAttrs(yamlLines("- objectName: db-creds", sm, `  filePermission: "644"`)),
			want:   []string{`objects[0] "db-creds": filePermission "644" must be four octal digits such as "0644"`}},
		{name: "a filePermission with a non-octal digit is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: "0999"`)),
			want:   []string{`objects[0] "db": filePermission "0999" must be four octal digits`}},
		{name: "a filePermission that is a word is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: abc`)),
			want:   []string{`objects[0] "db": filePermission "abc" must be four octal digits`}},
		{name: "an unquoted filePermission 0600 is refused with advice to quote it",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: 0600`)),
			want:   []string{`objects[0] "db": filePermission must be a quoted string such as "0600"; YAML read the unquoted 0600 as the number 384`}},
		{name: "an unquoted filePermission 644 is refused with advice to quote it",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: 644`)),
			want:   []string{`objects[0] "db": filePermission must be a quoted string`, "YAML read the unquoted 644 as the number 644"}},
		{name: "an unquoted filePermission 0999 is refused with advice to quote it",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: 0999`)),
			want:   []string{`objects[0] "db": filePermission must be a quoted string`, "unquoted 0999 as the number 999"}},
		{name: "a filePermission with setuid bits is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: "4755"`)),
			want:   []string{`objects[0] "db": filePermission "4755" sets setuid`}},
		{name: "a filePermission that is a list is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, `  filePermission: ["0644"]`)),
			want:   []string{`objects[0] "db": filePermission must be a quoted string`, "not a list"}},
		{name: "an unquoted jmesPath filePermission is refused with advice to quote it",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: user", "      objectAlias: u", "      filePermission: 0400")),
			want:   []string{`objects[0] "db": jmesPath[0] filePermission must be a quoted string such as "0400"`}},

		// jmesPath.
		{name: "a jmesPath entry without path is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - objectAlias: u")),
			want:   []string{`objects[0] "db": jmesPath[0] has no path`}},
		{name: "a jmesPath entry without objectAlias is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: user")),
			want:   []string{`objects[0] "db": jmesPath[0] (path "user") has no objectAlias`}},
		{name: "a jmesPath expression that does not compile is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: 'user['", "      objectAlias: u")),
			want:   []string{`objects[0] "db": jmesPath[0]: path "user[" is not a valid JMESPath expression`, "at character"}},
		{name: "a jmesPath expression calling an unknown function is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    - path: 'nope(@)'", "      objectAlias: u")),
			want:   []string{`objects[0] "db": jmesPath[0]: path "nope(@)" calls a function JMESPath does not have`}},
		{name: "a jmesPath that is not a list is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath: user")),
			want:   []string{`objects[0] "db": jmesPath must be a list`}},
		{name: "an empty jmesPath entry is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  jmesPath:", "    -")),
			want:   []string{`objects[0] "db": jmesPath[0] is empty`}},

		// failoverObject.
		{name: "a failoverObject without failoverRegion is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: x", "  failoverObject:", "    objectName: db-replica")),
			want:   []string{`objects[0] "db": failoverObject is set but the SecretProviderClass has no failoverRegion`}},
		{name: "a failoverObject without objectAlias is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  failoverObject:", "    objectName: db-replica"), "failoverRegion", "us-west-2"),
			want:   []string{`objects[0] "db": failoverObject names another object, so objectAlias is required`}},
		{name: "a failoverObject with another version is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: x", "  objectVersion: v1", "  failoverObject:", "    objectName: db-replica", "    objectVersion: v2"), "failoverRegion", "us-west-2"),
			want:   []string{`objects[0] "db": failoverObject objectVersion "v2" differs from objectVersion "v1"`}},
		{name: "a failoverObject without the primary's version is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  objectAlias: x", "  objectVersion: v1", "  failoverObject:", "    objectName: db-replica"), "failoverRegion", "us-west-2"),
			want:   []string{`objects[0] "db": failoverObject objectVersion "" differs from objectVersion "v1"`}},
		{name: "a failoverObject that is a string is refused",
			params: mountAttrs(yamlLines("- objectName: db", sm, "  failoverObject: db-replica"), "failoverRegion", "us-west-2"),
			want:   []string{`objects[0] "db": failoverObject must be a mapping`}},

		// SSM versions.
		{name: "an SSM parameter with both version and label is refused",
			params: mountAttrs(yamlLines("- objectName: p", ssm, `  objectVersion: "2"`, "  objectVersionLabel: prod")),
			want:   []string{`objects[0] "p": objectVersion and objectVersionLabel are both set`, "SSM"}},
		{name: "an SSM failoverObject with both version and label is refused",
			params: mountAttrs(yamlLines("- objectName: p", ssm, "  objectAlias: p", `  objectVersion: "2"`, "  failoverObject:", "    objectName: p2", `    objectVersion: "2"`, "    objectVersionLabel: prod"), "failoverRegion", "us-west-2"),
			want:   []string{`objects[0] "p": failoverObject objectVersion and failoverObject objectVersionLabel are both set`}},
		{name: "an SSM failover label on top of the primary's version is refused",
			params: mountAttrs(yamlLines("- objectName: p", ssm, `  objectVersion: "2"`, "  failoverObject:", "    objectVersionLabel: prod"), "failoverRegion", "us-west-2"),
			want:   []string{`objects[0] "p": in the failover region the SSM parameter would be read by both version "2" and label "prod"`}},
		{name: "an SSM version that is not a number is refused",
			params: mountAttrs(yamlLines("- objectName: p", ssm, "  objectVersion: latest")),
			want:   []string{`objects[0] "p": objectVersion "latest" is not an SSM parameter version number`}},

		// The other parameters.
		{name: "usePodIdentity maybe is refused",
			params: mountAttrs(oneSecret, "usePodIdentity", "maybe"),
			want:   []string{`usePodIdentity "maybe" is not a boolean`}},
		{name: "a two-character pathTranslation is refused",
			params: mountAttrs(oneSecret, "pathTranslation", "ab"),
			want:   []string{`pathTranslation "ab" must be one character`, "False"}},
		{name: "a pathTranslation of two underscores is refused",
			params: mountAttrs(oneSecret, "pathTranslation", "__"),
			want:   []string{`pathTranslation "__" must be one character`}},
		{name: "a pathTranslation of a NUL byte is refused",
			params: mountAttrs(oneSecret, "pathTranslation", "\x00"),
			want:   []string{"pathTranslation \"\\x00\" must be one character"}},
	}
}

func TestParseClassRefusesABadDriverPermission(t *testing.T) {
	t.Parallel()
	for _, mode := range []int32{-1, 0o1000, 0o4755} {
		_, err := class.Parse(mountAttrs(oneSecret), mode, catalog)
		if err == nil || !strings.Contains(err.Error(), "the driver's permission") || failure.KindOf(err) != failure.InvalidArgument {
			t.Errorf("Parse(permission %#o) = %v, want an InvalidArgument naming the driver's permission", mode, err)
		}
	}
}

func TestCheckRegionRefusesBadInput(t *testing.T) {
	t.Parallel()
	runBadCases(t, regionBadCases())
}

func regionBadCases() []badCase {
	return []badCase{
		{name: "a resolved region that is not a region name is refused",
			params: mountAttrs(oneSecret), region: "not a region",
			want: []string{`region "not a region" is not an AWS region name`}},
		{name: "no region at all is a precondition failure that says where regions come from",
			params: mountAttrs(oneSecret), region: "-", kind: failure.FailedPrecondition,
			want: []string{"no region", "AWS_REGION", "topology.kubernetes.io/region"}},
		{name: "a failoverRegion equal to the resolved primary region is refused",
			params: mountAttrs(oneSecret, "failoverRegion", "us-west-2"), region: "us-west-2",
			want: []string{`failoverRegion "us-west-2" is the same as the primary region "us-west-2"`}},
		{name: "an ARN in another region than the resolved primary is refused, naming both",
			params: mountAttrs(yamlLines("- objectName: " + smARNWest)), region: "us-east-1",
			want: []string{`objects[0] "` + smARNWest + `": the ARN is in region "us-west-2" but the primary region is "us-east-1"`}},
		{name: "an SSM ARN in another region than the resolved primary is refused",
			params: mountAttrs(yamlLines("- objectName: db", "  objectType: secretsmanager", "- objectName: "+ssmARN)), region: "eu-west-1",
			want: []string{`objects[1] "` + ssmARN + `": the ARN is in region "us-east-1" but the primary region is "eu-west-1"`}},
	}
}

// runBadCases runs each case and checks the error's kind and text.
func runBadCases(t *testing.T, cases []badCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := runBadCase(t, tc)
			testkit.CheckRefusal(t, err, tc.kind, tc.want, tc.secret)
		})
	}
}

func runBadCase(t *testing.T, tc badCase) error {
	c, err := class.Parse(tc.params, driverMode, catalog)
	if tc.region == "" {
		return err
	}
	if err != nil {
		t.Fatalf("Parse = %v, want success before the step under test", err)
	}
	r := tc.region
	if r == "-" {
		r = ""
	}
	return c.CheckRegion(r)
}

func TestThereAreEnoughBadInputCases(t *testing.T) {
	t.Parallel()
	n := len(parseBadCases()) + len(regionBadCases())
	if n < 45 {
		t.Errorf("%d bad-input cases, want at least 45", n)
	}
	t.Logf("%d bad-input cases", n)
}

// billionLaughs is an entry whose merge keys, followed naively, would pull
// in 10^10 mappings.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("- objectName: x\n  objectType: secretsmanager\n  l0: &l0 {k: v}\n")
	refs := func(i int) string { return strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i), 10), ", ") }
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d {<<: [%s]}\n", i, i, refs(i-1))
	}
	fmt.Fprintf(&b, "  <<: [%s]\n", refs(10))
	return b.String()
}

func TestRegionNames(t *testing.T) {
	t.Parallel()
	c := mustParse(t, mountAttrs(oneSecret))
	for _, r := range []string{"us-east-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1", "eu-isoe-west-1",
		"us-isob-east-1", "us-iso-east-1", "eusc-de-east-1", "ap-southeast-5", "il-central-1", "mx-central-1"} {
		if err := c.CheckRegion(r); err != nil {
			t.Errorf("region %q refused: %v", r, err)
		}
	}
	for _, r := range []string{"", "us-east", "useast1", "us_east_1", "US-EAST-1", "us-east-1 ", "us-east-1/x",
		"us-east-1.amazonaws.com", "a-b-1", "us--east-1", "-us-east-1", "us-east-123", "localhost:4566"} {
		if err := c.CheckRegion(r); err == nil {
			t.Errorf("region %q accepted", r)
		}
	}
}
