//go:build e2e

package scenarios

import (
	"fmt"
	"os"
	"testing"
	"time"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	corev1 "k8s.io/api/core/v1"
)

// TestRotation: with --enable-secret-rotation the driver forwards a
// republish to the provider only once --rotation-poll-interval has passed
// since it last wrote the files. A republish sooner does not reach the
// daemon (counted on the provider socket, not guessed from sleeps); the next
// one after the interval brings the new Secrets Manager value and the
// overwritten SSM parameter.
func TestRotation(t *testing.T) {
	localOnly(t, "the provider socket tap that counts Mount calls")
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	secret := ns + "-rotating"
	createSecret(t, primaryRegion, secret, "sm-v1")
	param := ns + "-rotating-param"
	putParameter(t, primaryRegion, param, "ssm-v1", ssmtypes.ParameterTypeSecureString)
	createSPC(t, ns, spc{Name: "rotating", Parameters: map[string]string{"region": primaryRegion, "objects": fmt.Sprintf(`
- objectName: %q
  objectType: secretsmanager
  objectAlias: sm
- objectName: %q
  objectType: ssmparameter
  objectAlias: ssm
`, secret, param)}})

	p := mounted(t, ns, sa, "rotating")
	p.wantFile(t, "sm", "sm-v1")
	p.wantFile(t, "ssm", "ssm-v1")
	if n := env.tap.MountCount(p.Vol.TargetPath); n != 1 {
		t.Fatalf("Mount calls after the first publish = %d, want 1", n)
	}
	// The daemon's own counter must agree with the tap's.
	daemonBefore := daemonMounts(t)

	putSecretValue(t, primaryRegion, secret, "sm-v2")
	putParameter(t, primaryRegion, param, "ssm-v2", ssmtypes.ParameterTypeSecureString)

	t.Run("a republish before the interval does not reach the daemon", func(t *testing.T) {
		if fi, err := os.Stat(p.Vol.TargetPath); err == nil && time.Since(fi.ModTime()) > pollInterval-time.Second {
			t.Fatalf("the machine took %v between the mount and the republish; the poll interval %v is too short to test this", time.Since(fi.ModTime()), pollInterval)
		}
		p.mustPublish(t)
		if n := env.tap.MountCount(p.Vol.TargetPath); n != 1 {
			t.Errorf("Mount calls after an early republish = %d, want still 1", n)
		}
		if d := daemonMounts(t) - daemonBefore; d != 0 {
			t.Errorf("the daemon counted %v Mounts for the early republish, want 0", d)
		}
		p.wantFile(t, "sm", "sm-v1")
		p.wantFile(t, "ssm", "ssm-v1")
	})

	t.Run("the next republish after the interval brings the new values", func(t *testing.T) {
		p.waitPastPollInterval(t)
		p.mustPublish(t)
		if n := env.tap.MountCount(p.Vol.TargetPath); n != 2 {
			t.Errorf("Mount calls after the republish past the interval = %d, want 2", n)
		}
		if d := daemonMounts(t) - daemonBefore; d != 1 {
			t.Errorf("the daemon counted %v Mounts since the first, want 1", d)
		}
		p.wantFile(t, "sm", "sm-v2")
		p.wantFile(t, "ssm", "ssm-v2")
		for _, m := range env.tap.Mounts(p.Vol.TargetPath) {
			if m.Code != "OK" {
				t.Errorf("a Mount failed: %s %s", m.Code, m.Message)
			}
		}
	})
}

// TestSyncToKubernetesSecret: spec.secretObjects makes the driver create a
// Kubernetes Secret from the mounted files, and update it after rotation.
func TestSyncToKubernetesSecret(t *testing.T) {
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	user := ns + "-db-user"
	pass := ns + "-db-pass"
	createSecret(t, primaryRegion, user, "admin")
	createSecret(t, primaryRegion, pass, "pass-v1")
	createSPC(t, ns, spc{
		Name: "synced",
		Parameters: map[string]string{"region": primaryRegion, "objects": fmt.Sprintf(`
- objectName: %q
  objectType: secretsmanager
  objectAlias: username
- objectName: %q
  objectType: secretsmanager
  objectAlias: password
`, user, pass)},
		SecretObjects: []map[string]any{{
			"secretName": "db-creds",
			"type":       "Opaque",
			"labels":     map[string]any{"app": "db"},
			"data": []any{
				map[string]any{"objectName": "username", "key": "user"},
				map[string]any{"objectName": "password", "key": "pass"},
			},
		}},
	})

	p := mounted(t, ns, sa, "synced")
	s := waitSecret(t, ns, "db-creds", func(s *corev1.Secret) bool { return len(s.Data) == 2 })
	if string(s.Data["user"]) != "admin" || string(s.Data["pass"]) != "pass-v1" {
		t.Errorf("Secret db-creds = user %q pass %q, want admin / pass-v1", s.Data["user"], s.Data["pass"])
	}
	if s.Labels["app"] != "db" || s.Labels["secrets-store.csi.k8s.io/managed"] != "true" {
		t.Errorf("Secret labels = %v, want app=db and secrets-store.csi.k8s.io/managed=true", s.Labels)
	}

	putSecretValue(t, primaryRegion, pass, "pass-v2")
	p.waitPastPollInterval(t)
	p.mustPublish(t)
	p.wantFile(t, "password", "pass-v2")
	waitSecret(t, ns, "db-creds", func(s *corev1.Secret) bool { return string(s.Data["pass"]) == "pass-v2" })
}

// TestRotationWithTheDaemonsDefaultCache checks rotation as the upstream
// driver's AWS end-to-end test does, against a daemon run with its default
// flags (a 2-minute value cache, far longer than the poll interval): two
// poll intervals after put-secret-value, with a republish after each, the
// pod has the new value. A republish is never answered with a value read
// before the pod's previous Mount, so the cache cannot hold a rotation back.
func TestRotationWithTheDaemonsDefaultCache(t *testing.T) {
	localOnly(t, "a daemon with its default flags and a driver of its own")
	dir, _ := env.ws.Mkdir("providers-defaults")
	d, err := env.startDaemonWith(testContext(t), dir)
	if err != nil {
		t.Fatalf("starting the daemon with its defaults: %v", err)
	}
	t.Cleanup(d.Stop)
	_, k := secondDriver(t, "v1.6.1", "e2e-node-defaults", dir)

	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	secret := ns + "-default-cache"
	createSecret(t, primaryRegion, secret, "v1")
	createSPC(t, ns, spc{Name: "default-cache", Parameters: map[string]string{
		"region": primaryRegion, "objects": fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n  objectAlias: value\n", secret),
	}})
	p := newPod(t, k, ns, sa, "default-cache")
	p.mustPublish(t)
	p.wantFile(t, "value", "v1")
	// A republish first, as kubelet's run about once a minute.
	p.waitPastPollInterval(t)
	p.mustPublish(t)

	putSecretValue(t, primaryRegion, secret, "v2")
	for range 2 {
		p.waitPastPollInterval(t)
		p.mustPublish(t)
	}
	p.wantFile(t, "value", "v2")
}
