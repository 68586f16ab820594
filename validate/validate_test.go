package validate_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
	"github.com/csi-provider-aws/csi-provider-aws/validate"
)

// catalog is the daemon's, as main.go builds it.
var catalog = class.Catalog{Services: provider.Services(), Modes: auth.Modes()}

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// lines are the report's lines (standard output).
func (r result) lines() []string {
	if r.stdout == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errw bytes.Buffer
	code := validate.Main(args, validate.Options{Catalog: catalog, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errw})
	return result{code: code, stdout: out.String(), stderr: errw.String()}
}

// wantLines checks that the report has exactly one line per want, each
// starting with it, in order.
func wantLines(t *testing.T, r result, want ...string) {
	t.Helper()
	got := r.lines()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s\n(stderr: %s)", len(got), len(want), r.stdout, r.stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("line %d = %q\nwant it to start with %q", i+1, got[i], w)
		}
	}
}

// exampleWarnings are the warnings the examples are known to earn: the
// demo and the Pod Identity example leave the region to the node.
var exampleWarnings = map[string][]string{
	"../examples/demo/secretproviderclass.yaml": {"../examples/demo/secretproviderclass.yaml: demo/demo-secrets: warning: no region:"},
	"../examples/pod-identity.yaml":             {"../examples/pod-identity.yaml: shop/checkout-secrets: warning: no region:"},
}

func TestEveryExampleIsAValidClass(t *testing.T) {
	var files []string
	err := filepath.WalkDir("../examples", func(path string, d fs.DirEntry, err error) error {
		if err == nil && filepath.Ext(path) == ".yaml" {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		t.Run(f+" is valid and earns only its known warnings", func(t *testing.T) {
			r := run(t, "", "-f", f)
			if r.code != validate.ExitValid {
				t.Errorf("exit %d, want 0:\n%s%s", r.code, r.stdout, r.stderr)
			}
			wantLines(t, r, exampleWarnings[f]...)
		})
	}
	t.Run("the examples directory as a whole is valid", func(t *testing.T) {
		n := testkit.ExampleClasses(t, "../examples")
		if r := run(t, "", "-f", "../examples/"); r.code != validate.ExitValid || !strings.Contains(r.stderr, fmt.Sprintf("%d SecretProviderClass(es)", n)) {
			t.Errorf("exit %d, want 0 after %d classes:\n%s%s", r.code, n, r.stdout, r.stderr)
		}
	})
}

// badInputs is the catalogue of testdata/bad: the lines each file must
// produce, each naming the object and the field to fix.
var badInputs = []struct {
	name, file string
	want       []string
}{
	{"a document that is not YAML is named by its place, after the valid one before it", "not-yaml.yaml",
		[]string{`testdata/bad/not-yaml.yaml: document 2 (line 14): not valid YAML: yaml: line 18:`}},
	{"a key given twice is refused as the API server refuses it", "duplicate-key.yaml",
		[]string{`testdata/bad/duplicate-key.yaml: team/twice: not valid YAML: yaml: unmarshal errors: line 11: key "region" already set`}},
	{"a misspelt spec field is named, and so is what it leaves missing", "unknown-field.yaml",
		[]string{`testdata/bad/unknown-field.yaml: team/typo: the API server would refuse it: unknown field "spec.paramters"`,
			`testdata/bad/unknown-field.yaml: team/typo: the SecretProviderClass lists no objects`}},
	{"an unquoted parameter is named", "parameter-not-string.yaml",
		[]string{`testdata/bad/parameter-not-string.yaml: team/unquoted: spec.parameters.usePodIdentity is a boolean`}},
	{"a class without objects says to add one", "no-objects.yaml",
		[]string{`testdata/bad/no-objects.yaml: team/empty: the SecretProviderClass lists no objects`}},
	{"a misspelt objectType names the object and the field", "object-type.yaml",
		[]string{`testdata/bad/object-type.yaml: team/misspelt-type: objects[0] "db": objectType "secretmanager" is unknown`}},
	{"a file mode that is not octal names the object and the field", "file-permission.yaml",
		[]string{`testdata/bad/file-permission.yaml: team/mode: objects[0] "db": filePermission "0999"`}},
	{"a failoverObject naming the replica without objectAlias is refused", "failover-without-alias.yaml",
		[]string{`testdata/bad/failover-without-alias.yaml: team/replica: objects[0] "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf": failoverObject names another object, so objectAlias is required`}},
	{"an ARN in another region than the class's names both", "arn-region.yaml",
		[]string{`testdata/bad/arn-region.yaml: team/elsewhere: objects[0] "arn:aws:ssm:eu-west-1:111122223333:parameter/app/url": the ARN is in region "eu-west-1" but the primary region is "us-east-1"`}},
	{"two objects writing one file are both named", "colliding-files.yaml",
		[]string{`testdata/bad/colliding-files.yaml: team/collide: objects[1] "/app/db" and objects[0] "db" would both write file "creds"`}},
	{"a jmesPath that does not compile names its entry", "jmespath.yaml",
		[]string{`testdata/bad/jmespath.yaml: team/path: objects[0] "db": jmesPath[0]: path "password[" is not a valid JMESPath expression`}},
	{"a region that is not a region name is refused before any call", "region.yaml",
		[]string{`testdata/bad/region.yaml: team/region: region "us_east_1" is not an AWS region name`}},
	{"a SecretProviderClass of another API group is not the driver's", "api-version.yaml",
		[]string{`testdata/bad/api-version.yaml: team/core: apiVersion "v1" is not the driver's`}},
	{"a class without a provider says to set it", "no-provider.yaml",
		[]string{`testdata/bad/no-provider.yaml: team/nobody: spec.provider is empty; set it to aws`}},
	{"a document that is a list, not an object, is named by its place", "not-an-object.yaml",
		[]string{`testdata/bad/not-an-object.yaml: document 1 (line 1): not a Kubernetes object`}},
	{"the bad item of a List is named, the good one passes", "list.yaml",
		[]string{`testdata/bad/list.yaml: team/same-regions: failoverRegion "us-east-1" is the same as region`}},
}

func TestTheBadInputCatalogueFailsNamingTheField(t *testing.T) {
	listed := map[string]bool{}
	for _, tc := range badInputs {
		listed[tc.file] = true
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "", "-f", "testdata/bad/"+tc.file)
			if r.code != validate.ExitInvalid {
				t.Errorf("exit %d, want 1", r.code)
			}
			wantLines(t, r, tc.want...)
		})
	}
	t.Run("every file of the catalogue is in the table", func(t *testing.T) {
		files, _ := filepath.Glob("testdata/bad/*.yaml")
		for _, f := range files {
			if !listed[filepath.Base(f)] {
				t.Errorf("%s is not in badInputs", f)
			}
		}
	})
	t.Run("the catalogue as a directory reports every problem", func(t *testing.T) {
		r := run(t, "", "-f", "testdata/bad")
		if n := len(r.lines()); r.code != validate.ExitInvalid || n != len(badInputs)+1 {
			t.Errorf("exit %d with %d lines, want 1 with %d", r.code, n, len(badInputs)+1)
		}
	})
	t.Run("standard input is read with -", func(t *testing.T) {
		b, err := os.ReadFile("testdata/bad/object-type.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, string(b), "-f", "-")
		if r.code != validate.ExitInvalid {
			t.Errorf("exit %d, want 1", r.code)
		}
		wantLines(t, r, `<stdin>: team/misspelt-type: objects[0] "db": objectType`)
	})
}

func TestWarningsPassUnlessStrict(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"a class without a region depends on the node", "no-region.yaml",
			`testdata/warn/no-region.yaml: team/anywhere: warning: no region:`},
		{"a version pinned and read in no other way is never rotated", "pinned.yaml",
			`testdata/warn/pinned.yaml: team/pinned: warning: objects[0] "db": objectVersion "01234567-89ab-cdef-0123-456789abcdef" pins that version`},
		{"a failoverObject without objectAlias names the file after objectName", "failover-without-alias.yaml",
			`testdata/warn/failover-without-alias.yaml: team/previous-in-failover: warning: objects[0] "db": failoverObject without objectAlias`},
		{"a listing without objectAlias beside other objects may collide as it grows", "listing-without-alias.yaml",
			`testdata/warn/listing-without-alias.yaml: team/mixed: warning: objects[1] "app/": objectNamePrefix without objectAlias writes its matches at the top of the mount`},
		{"a parameter the provider does not read is named", "unknown-parameter.yaml",
			`testdata/warn/unknown-parameter.yaml: team/misspelt: warning: parameter "Region" is not one the provider reads`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "", "-f", "testdata/warn/"+tc.file)
			if r.code != validate.ExitValid {
				t.Errorf("exit %d, want 0", r.code)
			}
			wantLines(t, r, tc.want)
			if r := run(t, "", "--strict", "-f", "testdata/warn/"+tc.file); r.code != validate.ExitInvalid {
				t.Errorf("with --strict: exit %d, want 1", r.code)
			}
		})
	}
}

func TestOtherKindsAndProvidersAreSkippedWithANote(t *testing.T) {
	r := run(t, "", "-f", "testdata/skip/other-provider.yaml")
	if r.code != validate.ExitValid || r.stdout != "" {
		t.Errorf("exit %d, report %q; want 0 and nothing", r.code, r.stdout)
	}
	for _, want := range []string{
		`testdata/skip/other-provider.yaml: team/vault-secrets: skipped: spec.provider is "vault", not aws`,
		`testdata/skip/other-provider.yaml: team/settings: skipped: a ConfigMap, not a SecretProviderClass`,
	} {
		if !strings.Contains(r.stderr, want+"\n") {
			t.Errorf("the notes lack %q:\n%s", want, r.stderr)
		}
	}
}

func TestInputThatCannotBeReadExitsTwo(t *testing.T) {
	empty := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a file that does not exist", []string{"-f", "testdata/missing.yaml"}, "testdata/missing.yaml: cannot be read:"},
		{"a directory without manifests", []string{"-f", empty}, empty + ": cannot be read: the directory holds no .yaml, .yml, .json file"},
		{"an unreadable input among bad ones", []string{"-f", "testdata/bad/region.yaml", "-f", "testdata/missing.yaml"}, "testdata/missing.yaml: cannot be read:"},
		{"no -f at all", nil, "name the manifests with -f (got no -f)"},
		{"a manifest named without -f", []string{"class.yaml"}, `name the manifests with -f (got ["class.yaml"] without -f)`},
		{"a flag the command does not have", []string{"--recursive", "-f", "x"}, "flag provided but not defined: -recursive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "", tc.args...)
			if r.code != validate.ExitUnreadable || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 and %q in:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
	if r := run(t, "", "-h"); r.code != validate.ExitValid || !slices.ContainsFunc(strings.Split(r.stderr, "\n"), func(l string) bool {
		return strings.HasPrefix(l, "usage: csi-provider-aws validate")
	}) {
		t.Errorf("-h: exit %d, usage:\n%s", r.code, r.stderr)
	}
}
