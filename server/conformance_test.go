package server_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"sigs.k8s.io/secrets-store-csi-driver/pkg/util/fileutil"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// role is in moto's default account: moto keeps data per account and maps
// assumed-role credentials to the role's account.
const role = "arn:aws:iam::123456789012:role/app"

// mounted is what a pod sees of its class's files: file name -> contents
// and mode, read through the driver's ..data symlinks. The daemon's record
// of the files it wrote in provider-writes mode (a hidden .csi-aws- file)
// is none of them.
type mounted map[string]struct {
	data string
	mode os.FileMode
}

func readMount(t *testing.T, dir string) mounted {
	t.Helper()
	out := mounted{}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.HasPrefix(rel, "..") || strings.HasPrefix(rel, ".csi-aws-") || fi.IsDir() {
			return nil
		}
		st, err := os.Stat(path) // follows the driver's symlink
		if err != nil {
			return err
		}
		if st.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		if st.IsDir() {
			// The driver links each top-level directory into its
			// "..data"; Walk does not follow links.
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return err
			}
			for name, f := range readMount(t, real) {
				out[rel+"/"+name] = f
			}
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[rel] = struct {
			data string
			mode os.FileMode
		}{string(b), st.Mode().Perm()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func versions(resp *v1alpha1.MountResponse) map[string]string {
	out := map[string]string{}
	for _, v := range resp.GetObjectVersion() {
		out[v.Id] = v.Version
	}
	return out
}

// TestConformance drives the daemon through the driver's own provider client
// over the real unix socket, writes the answer with the driver's own writer
// (fileutil.WritePayloads) and checks what the pod would see, against the
// in-process fake and against moto.
func TestConformance(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			// Unique names per backend run: moto is shared by the suite.
			n := func(s string) string { return fmt.Sprintf("conf-%d-%s", time.Now().UnixNano()%1e9, s) }
			dbName, apiName, binName, jsonName := n("db"), n("api"), n("bin"), n("json")
			_, dbV1 := seed.secret("us-west-2", dbName, "db-password-1")
			apiARN, apiV := seed.secret("us-west-2", apiName, "api-key")
			_, binV := seed.binarySecret("us-west-2", binName, []byte{0, 1, 2, 0xff})
			_, jsonV := seed.secret("us-west-2", jsonName, `{"username":"admin","password":"hunter2"}`)
			pStr, pList, pSecure := "/"+n("str"), "/"+n("list"), "/"+n("secure")
			seed.parameter("us-west-2", pStr, ssmtypes.ParameterTypeString, "plain")
			seed.parameter("us-west-2", pList, ssmtypes.ParameterTypeStringList, "a,b,c")
			seed.parameter("us-west-2", pSecure, ssmtypes.ParameterTypeSecureString, "secure-1")
			v2 := seed.parameter("us-west-2", pSecure, ssmtypes.ParameterTypeSecureString, "secure-2")
			seed.label("us-west-2", pSecure, 1, "stable")

			d := b.start(t, daemonOptions{driverWritesSecrets: true,
				kube: cluster(serviceAccount("team", "app", role))})
			p := pod{ns: "team", name: "web-1", sa: "app"}
			objects := fmt.Sprintf(`
- objectName: %q
  objectType: secretsmanager
- objectName: %q
  objectAlias: api-key
  filePermission: "0600"
- objectName: %q
  objectType: secretsmanager
- objectName: %q
  objectType: secretsmanager
  jmesPath:
  - path: username
    objectAlias: db-user
    filePermission: "0400"
  - path: password
    objectAlias: db-pass
- objectName: %q
  objectType: ssmparameter
- objectName: %q
  objectType: ssmparameter
- objectName: %q
  objectType: ssmparameter
  objectAlias: secure-latest
- objectName: %q
  objectType: ssmparameter
  objectAlias: secure-v1
  objectVersion: "1"
- objectName: %q
  objectType: ssmparameter
  objectAlias: secure-stable
  objectVersionLabel: stable
`, dbName, apiARN, binName, jsonName, pStr, pList, pSecure, pSecure, pSecure)
			params := map[string]string{"objects": objects, "region": "us-west-2"}
			target := t.TempDir()

			resp, err := d.mount(t, p, params, target)
			if err != nil {
				t.Fatalf("first mount: %v", err)
			}
			if err := fileutil.WritePayloads(target, resp.GetFiles()); err != nil {
				t.Fatalf("the driver's writer refused the answer: %v", err)
			}
			got := readMount(t, target)
			// Path translation turns every "/" into "_", the leading one too.
			strName := strings.ReplaceAll(pStr, "/", "_")
			listName := strings.ReplaceAll(pList, "/", "_")
			want := map[string]struct {
				data string
				mode os.FileMode
			}{
				dbName:          {"db-password-1", 0o644},
				"api-key":       {"api-key", 0o600},
				binName:         {"\x00\x01\x02\xff", 0o644},
				jsonName:        {`{"username":"admin","password":"hunter2"}`, 0o644},
				"db-user":       {"admin", 0o400},
				"db-pass":       {"hunter2", 0o644},
				strName:         {"plain", 0o644},
				listName:        {"a,b,c", 0o644},
				"secure-latest": {"secure-2", 0o644},
				"secure-v1":     {"secure-1", 0o644},
				"secure-stable": {"secure-1", 0o644},
			}
			if len(got) != len(want) {
				t.Errorf("the pod sees %d files, want %d: %v", len(got), len(want), keys(got))
			}
			for name, w := range want {
				g, ok := got[name]
				if !ok {
					t.Errorf("file %s is missing", name)
					continue
				}
				if g.data != w.data || g.mode != w.mode {
					t.Errorf("file %s = %q mode %o, want %q mode %o", name, g.data, g.mode, w.data, w.mode)
				}
			}
			fi, err := os.Lstat(filepath.Join(target, "api-key"))
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("driver-written files should be symlinks into ..data, got %v (%v)", fi, err)
			}
			wantVersions := map[string]string{
				dbName: dbV1, "api-key": apiV, binName: binV, jsonName: jsonV, "db-user": jsonV, "db-pass": jsonV,
				strName: "1", listName: "1", "secure-latest": fmt.Sprint(v2), "secure-v1": "1", "secure-stable": "1",
			}
			if gv := versions(resp); fmt.Sprint(gv) != fmt.Sprint(wantVersions) {
				t.Errorf("object versions = %v\nwant %v", gv, wantVersions)
			}

			// Republish with nothing changed, then a rotation: the driver
			// gets the whole set each time and the new value lands.
			resp, err = d.mount(t, p, params, target)
			if err != nil {
				t.Fatalf("republish: %v", err)
			}
			if len(resp.GetFiles()) != len(want) {
				t.Errorf("republish returned %d files, want the whole set of %d", len(resp.GetFiles()), len(want))
			}
			_, dbV2 := seed.secret("us-west-2", dbName, "db-password-2")
			resp, err = d.mount(t, p, params, target)
			if err != nil {
				t.Fatalf("mount after rotation: %v", err)
			}
			if err := fileutil.WritePayloads(target, resp.GetFiles()); err != nil {
				t.Fatal(err)
			}
			if g := readMount(t, target)[dbName].data; g != "db-password-2" {
				t.Errorf("after rotation the pod sees %q, want db-password-2", g)
			}
			if v := versions(resp)[dbName]; v != dbV2 {
				t.Errorf("after rotation the version is %q, want %q", v, dbV2)
			}
			if d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2") != 1 {
				t.Errorf("STS calls = %d over three mounts of one identity, want 1", d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2"))
			}
		})
	}
}

func keys(m mounted) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSecretsManagerPreviousVersion: objectVersionLabel AWSPREVIOUS and a
// pinned VersionId read the versions a user asked for.
func TestSecretsManagerPreviousVersion(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			name := fmt.Sprintf("prev-%d", time.Now().UnixNano()%1e9)
			_, v1 := seed.secret("us-west-2", name, "one")
			_, v2 := seed.secret("us-west-2", name, "two")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			objects := fmt.Sprintf(`
- {objectName: %q, objectType: secretsmanager, objectAlias: current}
- {objectName: %q, objectType: secretsmanager, objectAlias: previous, objectVersionLabel: AWSPREVIOUS}
- {objectName: %q, objectType: secretsmanager, objectAlias: pinned, objectVersion: %q}
`, name, name, name, v1)
			resp, err := d.mount(t, pod{ns: "team", name: "p", sa: "app"}, map[string]string{"objects": objects, "region": "us-west-2"}, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			for _, f := range resp.GetFiles() {
				files[f.Path] = string(f.Contents)
			}
			if files["current"] != "two" || files["previous"] != "one" || files["pinned"] != "one" {
				t.Errorf("files = %v", files)
			}
			if v := versions(resp); v["current"] != v2 || v["previous"] != v1 || v["pinned"] != v1 {
				t.Errorf("versions = %v, want current %s, previous and pinned %s", v, v2, v1)
			}
		})
	}
}

// TestFailover: the failover region serves only objects whose primary read
// failed with something other than a client fault. (While the primary
// answers, the failover objects are also read in the background at most
// once per 15 minutes per identity and class, to report a misconfigured
// failover object early; that read never decides what a Mount returns.)
func TestFailover(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			name := fmt.Sprintf("fo-%d", time.Now().UnixNano()%1e9)
			_, eastV := seed.secret("us-east-1", name, "from-east")
			_, westV := seed.secret("us-west-2", name, "from-west")
			onlyWest := name + "-only-in-failover"
			seed.secret("us-west-2", onlyWest, "must-not-be-served")
			proxy := newRegionFaultProxy(t, b.url)
			d := b.start(t, daemonOptions{endpoint: proxy.URL, driverWritesSecrets: true,
				kube: cluster(serviceAccount("team", "app", role), serviceAccount("team", "app2", role))})
			params := map[string]string{"region": "us-east-1", "failoverRegion": "us-west-2",
				"objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager, objectAlias: creds}\n", name)}
			p := pod{ns: "team", name: "p", sa: "app"}

			t.Run("the primary answers and its value is used", func(t *testing.T) {
				resp, err := d.mount(t, p, params, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if string(resp.GetFiles()[0].Contents) != "from-east" || versions(resp)["creds"] != eastV {
					t.Errorf("got %q version %s, want the primary's", resp.GetFiles()[0].Contents, versions(resp)["creds"])
				}
			})
			t.Run("a client fault in the primary fails the mount even when the failover region has the secret", func(t *testing.T) {
				missing := map[string]string{"region": "us-east-1", "failoverRegion": "us-west-2",
					"objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager, objectAlias: x}\n", onlyWest)}
				resp, err := d.mount(t, p, missing, t.TempDir())
				if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), onlyWest) || !strings.Contains(err.Error(), "us-east-1") {
					t.Errorf("err = %v (answer %v), want NotFound naming the secret and the primary region", err, resp.GetFiles())
				}
			})
			t.Run("a server fault in the primary is covered by the failover region", func(t *testing.T) {
				proxy.fail("us-east-1")
				// Another identity of the same role: nothing of it is cached.
				resp, err := d.mount(t, pod{ns: "team", name: "p2", sa: "app2"}, params, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if string(resp.GetFiles()[0].Contents) != "from-west" || versions(resp)["creds"] != westV {
					t.Errorf("got %q version %s, want the failover region's value and version %s", resp.GetFiles()[0].Contents, versions(resp)["creds"], westV)
				}
			})
		})
	}
}

// TestPodIdentity: usePodIdentity gets credentials from the node's agent
// with the pods.eks.amazonaws.com token, and never calls STS.
func TestPodIdentity(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			name := fmt.Sprintf("pi-%d", time.Now().UnixNano()%1e9)
			seed.secret("us-west-2", name, "via-pod-identity")
			agent, agentCalls := podIdentityAgent(t)
			d := b.start(t, daemonOptions{driverWritesSecrets: true, podIdentityURL: agent.URL,
				kube: cluster(serviceAccount("team", "no-role", ""))})
			params := map[string]string{"usePodIdentity": "true", "preferredAddressType": "ipv4", "region": "us-west-2",
				"objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager, objectAlias: s}\n", name)}
			resp, err := d.mount(t, pod{ns: "team", name: "p", sa: "no-role"}, params, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.GetFiles()[0].Contents) != "via-pod-identity" {
				t.Errorf("got %q", resp.GetFiles()[0].Contents)
			}
			if *agentCalls != 1 || d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2") != 0 {
				t.Errorf("agent calls %d, STS calls %d; want 1 and 0", *agentCalls, d.calls.count("STS", "AssumeRoleWithWebIdentity", "us-west-2"))
			}
		})
	}
}

// TestProviderWritesMode: with --driver-writes-secrets=false the daemon
// writes the files itself, and a failing mount leaves them untouched.
func TestProviderWritesMode(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			name := fmt.Sprintf("pw-%d", time.Now().UnixNano()%1e9)
			seed.secret("us-west-2", name, "first")
			d := b.start(t, daemonOptions{driverWritesSecrets: false, kube: cluster(serviceAccount("team", "app", role))})
			p := pod{ns: "team", name: "p", sa: "app"}
			target := t.TempDir()
			good := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(`
- {objectName: %q, objectType: secretsmanager, objectAlias: nested/one, filePermission: "0640"}
`, name), "pathTranslation": "False"}
			resp, err := d.mount(t, p, good, target)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetFiles()) != 0 || versions(resp)["nested/one"] == "" {
				t.Errorf("provider-writes answer: %d files, versions %v; want no files and the version", len(resp.GetFiles()), versions(resp))
			}
			got := readMount(t, target)
			if g := got["nested/one"]; g.data != "first" || g.mode != 0o640 {
				t.Fatalf("written file = %+v", g)
			}
			bad := map[string]string{"region": "us-west-2", "pathTranslation": "False", "objects": fmt.Sprintf(`
- {objectName: %q, objectType: secretsmanager, objectAlias: nested/one}
- {objectName: missing-secret, objectType: secretsmanager, objectAlias: other}
`, name)}
			seed.secret("us-west-2", name, "second")
			if _, err := d.mount(t, p, bad, target); status.Code(err) != codes.NotFound {
				t.Fatalf("err = %v, want NotFound", err)
			}
			if g := readMount(t, target); len(g) != 1 || g["nested/one"].data != "first" {
				t.Errorf("a failed mount changed the pod's files: %v", g)
			}
		})
	}
}

// TestFailuresTellTheUserWhatToFix: each failure reaches the driver as a
// status with the right code and a message naming the cause.
func TestFailuresTellTheUserWhatToFix(t *testing.T) {
	bs := backends(t)
	fake := bs[0]
	seed := seeder{t: t, url: fake.url}
	seed.secret("us-west-2", "denied-secret", "x")
	seed.secret("us-west-2", "ok-secret", "x")
	fake.fake.Trust(role, "system:serviceaccount:team:app")
	d := fake.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(
		serviceAccount("team", "app", role), serviceAccount("team", "no-role", ""))})
	fake.fake.DenySecret(role, "denied-secret")
	obj := func(name string) map[string]string {
		return map[string]string{"region": "us-west-2", "objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager}\n", name)}
	}
	cases := []struct {
		name   string
		pod    pod
		params map[string]string
		code   codes.Code
		want   []string
	}{
		{"a ServiceAccount without a role annotation says to annotate it", pod{ns: "team", name: "p", sa: "no-role"}, obj("ok-secret"),
			codes.FailedPrecondition, []string{"team/no-role", "eks.amazonaws.com/role-arn"}},
		{"a CSIDriver without tokenRequests says which audience to add", pod{ns: "team", name: "p", sa: "app", audiences: []string{}}, obj("ok-secret"),
			codes.FailedPrecondition, []string{"sts.amazonaws.com", "tokenRequests"}},
		{"an access denial names the secret, the region and the permission", pod{ns: "team", name: "p", sa: "app"}, obj("denied-secret"),
			codes.PermissionDenied, []string{"denied-secret", "us-west-2", "AccessDeniedException", "secretsmanager:GetSecretValue"}},
		{"a missing secret names it and the region", pod{ns: "team", name: "p", sa: "app"}, obj("no-such-secret"),
			codes.NotFound, []string{"no-such-secret", "us-west-2", "ResourceNotFoundException"}},
		{"an expired token is refused before any AWS call", pod{ns: "team", name: "p", sa: "app", tokenExp: time.Now().Add(-time.Minute)}, obj("ok-secret"),
			codes.Unauthenticated, []string{"expired"}},
		{"a bad class names the field", pod{ns: "team", name: "p", sa: "app"},
			map[string]string{"region": "us-west-2", "objects": "- {objectName: x, objectType: vault}\n"},
			codes.InvalidArgument, []string{"objectType", "vault"}},
		{"a class with no objects says so", pod{ns: "team", name: "p", sa: "app"},
			map[string]string{"region": "us-west-2", "objects": "[]"},
			codes.InvalidArgument, []string{"no objects"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.mount(t, tc.pod, tc.params, t.TempDir())
			if status.Code(err) != tc.code {
				t.Fatalf("code = %v (%v), want %v", status.Code(err), err, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not mention %q", status.Convert(err).Message(), w)
				}
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("message carries a token: %q", err)
			}
		})
	}
	t.Run("the daemon answers Version like a v1alpha1 provider", func(t *testing.T) {
		v, err := d.client.Version(t.Context(), &v1alpha1.VersionRequest{Version: "v1alpha1"})
		if err != nil || v.Version != "v1alpha1" || v.RuntimeName != "csi-provider-aws" || v.RuntimeVersion != "1.2.3" {
			t.Errorf("Version = %v, %v", v, err)
		}
	})
}
