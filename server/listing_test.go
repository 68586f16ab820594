package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Objects listed by prefix (Secrets Manager) or path (SSM) through the
// daemon, against the in-process fake and moto, with the default cache and
// with the cache off.

// taggedSecret creates a string secret with tags (key, value, ...).
func (s seeder) taggedSecret(region, name, value string, kv ...string) {
	s.t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	for k := 0; k+1 < len(kv); k += 2 {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(kv[k]), Value: aws.String(kv[k+1])})
	}
	if _, err := s.sm(region).CreateSecret(context.Background(), in); err != nil {
		s.t.Fatalf("seeding secret %s: %v", name, err)
	}
}

func TestAPrefixMountsEverySecretUnderIt(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			prefix := unique("list") + "/"
			want := map[string]string{}
			for i := range 23 { // more than one BatchGetSecretValue page of 20
				name := fmt.Sprintf("%sdb/s%02d", prefix, i)
				seed.secret("us-west-2", name, "v-"+name)
				want[fmt.Sprintf("app/db_s%02d", i)] = "v-" + name
			}
			seed.secret("us-west-2", strings.TrimSuffix(prefix, "/")+"-not-under", "outside")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			params := map[string]string{"region": "us-west-2",
				"objects": fmt.Sprintf("- {objectNamePrefix: %q, objectType: secretsmanager, objectAlias: app}\n", prefix)}
			target := t.TempDir()
			resp, err := d.mount(t, pod{ns: "team", name: "p", sa: "app"}, params, target)
			if err != nil {
				t.Fatal(err)
			}
			got := driverWrites(t, resp, target)
			if len(got) != len(want) {
				t.Errorf("mounted %d files (%s), want %d", len(got), names(got), len(want))
			}
			for name, v := range want {
				if got[name].data != v {
					t.Errorf("file %s = %q, want %q", name, got[name].data, v)
				}
			}
			if v := versions(resp); v["app/db_s07"] == "" {
				t.Errorf("versions = %v, want each member's version", v)
			}
		})
	}
}

// TestTagsMatchAsPairs: a secret tagged team=search, owner=payments has
// the key team and the value payments, and still is not team=payments.
func TestTagsMatchAsPairs(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			prefix := unique("tags") + "/"
			seed.taggedSecret("us-west-2", prefix+"a", "A", "team", "payments")
			seed.taggedSecret("us-west-2", prefix+"b", "B", "team", "search", "owner", "payments")
			seed.taggedSecret("us-west-2", prefix+"c", "C", "team", "payments", "env", "prod")
			seed.secret("us-west-2", prefix+"untagged", "U")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			for _, tc := range []struct{ tags, want string }{
				{"{team: payments}", "a c"},
				{"{team: payments, env: prod}", "c"},
				{"{owner: payments}", "b"},
			} {
				params := map[string]string{"region": "us-west-2",
					"objects": fmt.Sprintf("- {objectNamePrefix: %q, objectType: secretsmanager, objectTags: %s}\n", prefix, tc.tags)}
				target := t.TempDir()
				resp, err := d.mount(t, pod{ns: "team", name: "p", sa: "app"}, params, target)
				if err != nil {
					t.Fatalf("tags %s: %v", tc.tags, err)
				}
				if got := names(driverWrites(t, resp, target)); got != tc.want {
					t.Errorf("tags %s mounted %q, want %q", tc.tags, got, tc.want)
				}
			}
		})
	}
}

// TestASecretCreatedAndDeletedUnderThePrefix: the set is listed again with
// every revalidation: within two republishes a secret created under the
// prefix appears and one deleted disappears, whoever writes the files.
func TestASecretCreatedAndDeletedUnderThePrefix(t *testing.T) {
	for _, b := range backends(t) {
		for _, driverWritesSecrets := range []bool{true, false} {
			mode := map[bool]string{true: "driver-writes", false: "provider-writes"}[driverWritesSecrets]
			t.Run(b.name+"/"+mode, func(t *testing.T) {
				seed := seeder{t: t, url: b.url}
				prefix := unique("churn") + "/"
				seed.secret("us-west-2", prefix+"x", "X")
				seed.secret("us-west-2", prefix+"y", "Y")
				d := b.start(t, daemonOptions{driverWritesSecrets: driverWritesSecrets, kube: cluster(serviceAccount("team", "app", role))})
				p := pod{ns: "team", name: "p", sa: "app"}
				params := map[string]string{"region": "us-west-2",
					"objects": fmt.Sprintf("- {objectNamePrefix: %q, objectType: secretsmanager}\n", prefix)}
				target := t.TempDir()
				if got := names(republishTwice(t, d, p, params, target, driverWritesSecrets)); got != "x y" {
					t.Fatalf("first mount: %q, want \"x y\"", got)
				}
				seed.secret("us-west-2", prefix+"z", "Z")
				seed.deleteSecret("us-west-2", prefix+"x")
				got := republishTwice(t, d, p, params, target, driverWritesSecrets)
				if names(got) != "y z" || got["z"].data != "Z" {
					t.Errorf("after creating z and deleting x: %q, want \"y z\"", names(got))
				}
			})
		}
	}
}

func TestAPathMountsItsParameters(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			path := "/" + unique("path")
			seed.parameter("us-west-2", path+"/top", ssmtypes.ParameterTypeString, "T")
			seed.parameter("us-west-2", path+"/db/user", ssmtypes.ParameterTypeSecureString, "U")
			seed.parameter("us-west-2", path+"/db/tls/key", ssmtypes.ParameterTypeSecureString, "K")
			for i := range 11 { // more than one GetParametersByPath page of 10
				seed.parameter("us-west-2", fmt.Sprintf("%s/many/p%02d", path, i), ssmtypes.ParameterTypeString, "m")
			}
			seed.parameter("us-west-2", path+"-sibling/x", ssmtypes.ParameterTypeString, "outside")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			for _, tc := range []struct {
				name, extra, want string
			}{
				{"recursive by default, names translated", "", "db_tls_key db_user many_p00 many_p10 top 14"},
				{"not recursive: only the path's own parameters", ", recursive: false", "top 1"},
				{"nested directories when pathTranslation is False", "", "db/tls/key db/user many/p00 many/p10 top 14"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					params := map[string]string{"region": "us-west-2",
						"objects": fmt.Sprintf("- {objectPath: %q, objectType: ssmparameter%s}\n", path, tc.extra)}
					if strings.Contains(tc.name, "pathTranslation") {
						params["pathTranslation"] = "False"
					}
					target := t.TempDir()
					resp, err := d.mount(t, pod{ns: "team", name: "p", sa: "app"}, params, target)
					if err != nil {
						t.Fatal(err)
					}
					got := driverWrites(t, resp, target)
					fields := strings.Fields(tc.want)
					count := fields[len(fields)-1]
					for _, f := range fields[:len(fields)-1] {
						if _, ok := got[f]; !ok {
							t.Errorf("no file %s in %s", f, names(got))
						}
					}
					if fmt.Sprint(len(got)) != count {
						t.Errorf("mounted %d files (%s), want %s", len(got), names(got), count)
					}
				})
			}
		})
	}
}

// TestEachMemberIsReadLikeAnObject: jmesPath, jsonKeysAsFiles and
// objectEncoding apply to every member, each member a directory of the
// files taken out of it.
func TestEachMemberIsReadLikeAnObject(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			prefix := unique("json") + "/"
			seed.secret("us-west-2", prefix+"a", `{"user":"ua","pass":"cGE="}`)
			seed.secret("us-west-2", prefix+"b", `{"user":"ub","pass":"cGI="}`)
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			params := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(`
- objectNamePrefix: %q
  objectType: secretsmanager
  objectAlias: creds
  jsonKeysAsFiles: true
  jmesPath: [{path: pass, objectAlias: pass.raw, objectEncoding: base64}]
`, prefix)}
			target := t.TempDir()
			resp, err := d.mount(t, pod{ns: "team", name: "p", sa: "app"}, params, target)
			if err != nil {
				t.Fatal(err)
			}
			got := driverWrites(t, resp, target)
			for name, want := range map[string]string{
				"creds/a/user": "ua", "creds/a/pass": "cGE=", "creds/a/pass.raw": "pa",
				"creds/b/user": "ub", "creds/b/pass.raw": "pb",
			} {
				if got[name].data != want {
					t.Errorf("file %s = %q, want %q (files: %s)", name, got[name].data, want, names(got))
				}
			}
		})
	}
}

func TestListingFailuresNameThePrefix(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			prefix := unique("bound") + "/"
			for i := range 4 {
				seed.secret("us-west-2", fmt.Sprintf("%s%d", prefix, i), "v")
			}
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			p := pod{ns: "team", name: "p", sa: "app"}
			for _, tc := range []struct {
				name, objects, want string
				kind                failure.Kind
			}{
				{"more matches than maxObjects", fmt.Sprintf("- {objectNamePrefix: %q, objectType: secretsmanager, maxObjects: 3}", prefix),
					"matches 4 secrets or more, more than its maxObjects 3", failure.InvalidArgument},
				{"no match", fmt.Sprintf("- {objectNamePrefix: %q, objectType: secretsmanager}", prefix+"none/"),
					"no secrets match objectNamePrefix", failure.NotFound},
				{"no parameter under the path", "- {objectPath: /" + unique("nothing") + ", objectType: ssmparameter}",
					"no parameters match objectPath", failure.NotFound},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := d.mount(t, p, map[string]string{"region": "us-west-2", "objects": tc.objects}, t.TempDir())
					if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "objects[0]") {
						t.Errorf("Mount = %v, want an error naming objects[0] and containing %q", err, tc.want)
					}
				})
			}
			t.Run("an optional listing that matches nothing is left out", func(t *testing.T) {
				params := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(
					"- {objectNamePrefix: %q, objectType: secretsmanager, optional: true}\n- {objectNamePrefix: %q, objectType: secretsmanager, objectAlias: some}", prefix+"none/", prefix)}
				target := t.TempDir()
				resp, err := d.mount(t, p, params, target)
				if err != nil {
					t.Fatal(err)
				}
				if got := names(driverWrites(t, resp, target)); got != "some/0 some/1 some/2 some/3" {
					t.Errorf("mounted %q", got)
				}
			})
		})
	}
}
