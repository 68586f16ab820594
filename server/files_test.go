package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"sigs.k8s.io/secrets-store-csi-driver/pkg/util/fileutil"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// The files of the fields the reference does not have (jmesPath results of
// any JSON type, objectEncoding, jsonKeysAsFiles, optional objects) through the daemon, against the
// in-process fake and moto, with the daemon's default cache and with the
// cache off.

// deleteSecret deletes a secret at once, as a user would with
// --force-delete-without-recovery.
func (s seeder) deleteSecret(region, name string) {
	s.t.Helper()
	if _, err := s.sm(region).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		s.t.Fatalf("deleting secret %s: %v", name, err)
	}
}

// unique names a test's AWS objects apart from every other run: moto is
// shared by the suite.
func unique(s string) string { return fmt.Sprintf("f9-%d-%s", time.Now().UnixNano()%1e9, s) }

// driverWrites writes the answer as the driver does, into target, and
// returns what the pod sees.
func driverWrites(t *testing.T, resp *v1alpha1.MountResponse, target string) mounted {
	t.Helper()
	if resp.GetObjectVersion() == nil {
		t.Fatal("the answer has no object versions: the driver would fail it (\"missing object versions\")")
	}
	if err := fileutil.WritePayloads(target, resp.GetFiles()); err != nil {
		t.Fatalf("the driver's writer refused the answer: %v", err)
	}
	return readMount(t, target)
}

func names(m mounted) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestFilesOfAnyTypeDecodedAndPerKey(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			jsonName, ksName, binName, hexName := unique("json"), unique("ks"), unique("bin"), "/"+unique("hex")
			_, jsonV := seed.secret("us-west-2", jsonName,
				`{"user":"admin","port":5432,"tls":true,"ratio":0.5,"opts":{"z":1,"a":[1,"x",null]},"cert":"aGk="}`)
			keystore := []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0xff}
			seed.secret("us-west-2", ksName, base64.StdEncoding.EncodeToString(keystore)+"\n")
			_, binV := seed.binarySecret("us-west-2", binName, []byte(`{"bin-key":"from binary","n":7}`))
			seed.parameter("us-west-2", hexName, ssmtypes.ParameterTypeSecureString, "48656c6c6f")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			params := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(`
- objectName: %q
  objectType: secretsmanager
  objectAlias: db.json
  filePermission: "0440"
  jsonKeysAsFiles: true
  jmesPath:
    - {path: opts.a, objectAlias: opts-a}
    - {path: cert, objectAlias: cert.bin, objectEncoding: base64}
- {objectName: %q, objectType: secretsmanager, objectAlias: keystore.jks, objectEncoding: base64}
- {objectName: %q, objectType: secretsmanager, objectAlias: bin.json, jsonKeysAsFiles: "TRUE"}
- {objectName: %q, objectType: ssmparameter, objectAlias: greeting, objectEncoding: HEX}
`, jsonName, ksName, binName, hexName)}
			target := t.TempDir()
			resp, err := d.mount(t, pod{ns: "team", name: "p", sa: "app"}, params, target)
			if err != nil {
				t.Fatal(err)
			}
			got := driverWrites(t, resp, target)
			for name, want := range map[string]string{
				"user": "admin", "port": "5432", "tls": "true", "ratio": "0.5", "opts": `{"a":[1,"x",null],"z":1}`,
				"cert": "aGk=", "opts-a": `[1,"x",null]`, "cert.bin": "hi", "keystore.jks": string(keystore),
				"bin-key": "from binary", "n": "7", "greeting": "Hello",
			} {
				if got[name].data != want {
					t.Errorf("file %s = %q, want %q", name, got[name].data, want)
				}
			}
			if got["port"].mode != 0o440 || got["greeting"].mode != 0o644 {
				t.Errorf("modes: port %o, greeting %o; want the object's 0440 and the driver's 0644", got["port"].mode, got["greeting"].mode)
			}
			v := versions(resp)
			if v["port"] != jsonV || v["opts-a"] != jsonV || v["bin-key"] != binV {
				t.Errorf("versions = %v, want each key and entry its object's", v)
			}
		})
	}
}

// TestAKeyAddedAndRemovedBetweenMounts: the file set follows the secret's
// keys, whoever writes the files.
func TestAKeyAddedAndRemovedBetweenMounts(t *testing.T) {
	for _, b := range backends(t) {
		for _, driverWritesSecrets := range []bool{true, false} {
			mode := map[bool]string{true: "driver-writes", false: "provider-writes"}[driverWritesSecrets]
			t.Run(b.name+"/"+mode, func(t *testing.T) {
				seed := seeder{t: t, url: b.url}
				name := unique("keys")
				seed.secret("us-west-2", name, `{"a":"1"}`)
				d := b.start(t, daemonOptions{driverWritesSecrets: driverWritesSecrets, kube: cluster(serviceAccount("team", "app", role))})
				p := pod{ns: "team", name: "p", sa: "app"}
				params := map[string]string{"region": "us-west-2",
					"objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager, objectAlias: all.json, jsonKeysAsFiles: true}\n", name)}
				target := t.TempDir()
				if err := os.WriteFile(target+"/not-the-daemons", []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				for _, step := range []struct{ value, want string }{
					{"", "a all.json"},
					{`{"a":"1","b":"2"}`, "a all.json b"},
					{`{"b":"3"}`, "all.json b"},
				} {
					if step.value != "" {
						seed.secret("us-west-2", name, step.value)
					}
					got := republishTwice(t, d, p, params, target, driverWritesSecrets)
					delete(got, "not-the-daemons")
					if names(got) != step.want {
						t.Errorf("after %s the pod sees %q, want %q", step.value, names(got), step.want)
					}
				}
				if !driverWritesSecrets {
					if _, err := os.Stat(target + "/not-the-daemons"); err != nil {
						t.Errorf("a file the daemon did not write was removed: %v", err)
					}
				}
			})
		}
	}
}

// republishTwice mounts twice, as two republishes of the pod: a change in
// AWS reaches a pod within two of its republishes (docs/design.md,
// freshness in numbers), whatever the cache. It returns what the pod
// sees.
func republishTwice(t *testing.T, d *daemon, p pod, params map[string]string, target string, driverWritesSecrets bool) mounted {
	t.Helper()
	for range 2 {
		resp, err := d.mount(t, p, params, target)
		if err != nil {
			t.Fatal(err)
		}
		if driverWritesSecrets {
			driverWrites(t, resp, target)
		}
	}
	return readMount(t, target)
}

// TestOptionalObjects: a missing optional object is left out, counted and
// reported with an empty version; it arrives within two republishes after
// it is created, as a rotation does, and goes when it is deleted; every
// object missing still makes an answer the driver takes.
func TestOptionalObjects(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seed := seeder{t: t, url: b.url}
			present, later, param := unique("present"), unique("later"), "/"+unique("later")
			seed.secret("us-west-2", present, "here")
			d := b.start(t, daemonOptions{driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
			p := pod{ns: "team", name: "p", sa: "app"}
			params := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(`
- {objectName: %q, objectType: secretsmanager, objectAlias: present}
- {objectName: %q, objectType: secretsmanager, objectAlias: later, optional: true}
- {objectName: %q, objectType: ssmparameter, objectAlias: param, optional: "true"}
`, present, later, param)}
			target := t.TempDir()
			resp, err := d.mount(t, p, params, target)
			if err != nil {
				t.Fatalf("a Mount with missing optional objects failed: %v", err)
			}
			if got := names(driverWrites(t, resp, target)); got != "present" {
				t.Errorf("the pod sees %q, want only present", got)
			}
			if v := versions(resp); v["later"] != "" || v["param"] != "" || len(v) != 3 {
				t.Errorf("object versions = %v, want the missing objects with empty versions", v)
			}
			for svc, want := range map[string]float64{"secretsmanager": 1, "ssmparameter": 1} {
				if n := d.metric(t, "csi_provider_aws_optional_objects_missing_total", map[string]string{"service": svc}); n != want {
					t.Errorf("optional objects missing for %s = %v, want %v", svc, n, want)
				}
			}

			seed.secret("us-west-2", later, "arrived")
			seed.parameter("us-west-2", param, ssmtypes.ParameterTypeString, "arrived-too")
			got := republishTwice(t, d, p, params, target, true)
			if got["later"].data != "arrived" || got["param"].data != "arrived-too" {
				t.Errorf("after they were created the republishes give %v", got)
			}

			seed.deleteSecret("us-west-2", later)
			if got := names(republishTwice(t, d, p, params, target, true)); got != "param present" {
				t.Errorf("after the secret was deleted the pod sees %q, want param and present", got)
			}

			allMissing := map[string]string{"region": "us-west-2", "objects": fmt.Sprintf(
				"- {objectName: %q, objectType: secretsmanager, optional: true}\n", unique("never"))}
			resp, err = d.mount(t, pod{ns: "team", name: "p2", sa: "app"}, allMissing, t.TempDir())
			if err != nil || len(resp.GetFiles()) != 0 || len(resp.GetObjectVersion()) != 1 {
				t.Errorf("every object missing: %v, %d files, versions %v; want no file and one object version", err, len(resp.GetFiles()), versions(resp))
			}
		})
	}
}

// TestKeysDecodedValuesAndMissingOptionalObjectsCostOneReadPerIdentityPerRound counts the calls the fake
// answers (moto does not count): a class with a jsonKeysAsFiles secret, a
// decoded secret and a missing optional secret and parameter costs three
// pods of one identity one batch per service for their first Mounts, and
// at most one batch per service per round of republishes.
func TestKeysDecodedValuesAndMissingOptionalObjectsCostOneReadPerIdentityPerRound(t *testing.T) {
	f, url := startFake(t)
	seed := seeder{t: t, url: url}
	seed.secret("us-west-2", "keys", `{"a":"1","b":2}`)
	seed.secret("us-west-2", "b64", "aGk=")
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: defaultCacheTTL, staleMax: defaultStaleMax,
		kube: cluster(serviceAccount("team", "app", role))})
	params := map[string]string{"region": "us-west-2", "objects": `
- {objectName: keys, objectType: secretsmanager, jsonKeysAsFiles: true, objectAlias: keys.json}
- {objectName: b64, objectType: secretsmanager, objectEncoding: base64}
- {objectName: gone, objectType: secretsmanager, optional: true}
- {objectName: /gone, objectType: ssmparameter, optional: true}
`}
	f.ResetCalls()
	pods := []pod{{ns: "team", name: "p1", sa: "app"}, {ns: "team", name: "p2", sa: "app"}, {ns: "team", name: "p3", sa: "app"}}
	targets := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	round := func() {
		t.Helper()
		for i, p := range pods {
			resp, err := d.mount(t, p, params, targets[i])
			if err != nil {
				t.Fatal(err)
			}
			if got := len(resp.GetFiles()); got != 4 {
				t.Fatalf("files = %d, want keys.json, a, b and b64", got)
			}
		}
	}
	reads := func() string {
		calls := f.Calls()
		f.ResetCalls()
		delete(calls, "sts:AssumeRoleWithWebIdentity")
		return fmt.Sprint(calls)
	}
	one := "map[secretsmanager:BatchGetSecretValue:1 ssm:GetParameters:1]"
	round()
	if got := reads(); got != one {
		t.Errorf("reads for three pods' first Mounts = %s, want %s", got, one)
	}
	// A republish takes values confirmed since that pod's previous Mount
	// began, so the pod after the last reader reads: one batch per service
	// in a round, or none when the last read came after every pod's
	// previous Mount began.
	rounds := 0
	for range 4 {
		round()
		switch got := reads(); got {
		case one:
			rounds++
		case "map[]":
		default:
			t.Errorf("reads for a round of republishes = %s, want %s or none", got, one)
		}
	}
	if rounds == 0 {
		t.Error("four rounds of republishes read nothing: the republish rule did not apply")
	}
	t.Logf("four rounds of three republishes each: %d rounds read one batch per service", rounds)
	for i := range 5 {
		if _, err := d.mount(t, pod{ns: "team", name: fmt.Sprintf("new-%d", i), sa: "app"}, params, t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	if got := reads(); got != "map[]" {
		t.Errorf("reads for five new pods within the TTL = %s, want none", got)
	}
}
