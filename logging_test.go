package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

// TestJSONLogsAreOneObjectPerLineWithoutSecrets runs the daemon with
// --logging-format=json at -v=5 through Mounts that succeed and fail, then
// stops it: every line it printed must be a JSON object, the audit line
// must carry its keys as fields, and no line may hold a secret value, a
// token or a credential (docs/design.md, invariant 4).
func TestJSONLogsAreOneObjectPerLineWithoutSecrets(t *testing.T) {
	const marker = "SEKRIT-json-5d1e"
	dir, aws, kc := standIns(t, "json-")
	aws.PutSecretString("us-west-2", "db", `{"user":"app","password":"`+marker+`"}`)
	cmd, out := daemonProcess(t, []string{"--provider-volume", dir, "--kubeconfig", kc, "--http-addr", "", "--node-name", "node-1",
		"--logging-format", "json", "-v", "5"}, "AWS_ENDPOINT_URL="+aws.URL(), "AWS_REGION=")
	sock := filepath.Join(dir, "aws.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, out)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, func() bool {
		r, err := healthgrpc.NewHealthClient(conn).Check(t.Context(), &healthgrpc.HealthCheckRequest{})
		return err == nil && r.GetStatus() == healthgrpc.HealthCheckResponse_SERVING
	}, out)

	tokens := mountThroughEveryPath(t, conn, dir)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	forbidden := append(append([]string{marker}, tokens...), aws.IssuedSecrets()...)
	lines := checkJSONLines(t, out.String(), forbidden)
	wantAudit(t, lines, "mount", "ok")
	wantAudit(t, lines, "mount failed", "NotFound")
}

// mountThroughEveryPath mounts as the driver would, down the paths that
// handle a value, a token or a credential, and returns the tokens sent.
func mountThroughEveryPath(t *testing.T, conn *grpc.ClientConn, target string) (tokens []string) {
	t.Helper()
	client := v1alpha1.NewCSIDriverProviderClient(conn)
	cases := []struct {
		name    string
		sa      string
		objects string
		fails   bool
	}{
		{"a mount with a jmesPath file succeeds", "app", "- {objectName: db, objectType: secretsmanager, jmesPath: [{path: password, objectAlias: pw}]}\n", false},
		{"a mount of a missing secret fails", "app", "- {objectName: missing, objectType: secretsmanager}\n", true},
		{"a mount with a jmesPath that selects nothing fails", "app", "- {objectName: db, objectType: secretsmanager, jmesPath: [{path: nope, objectAlias: n}]}\n", true},
		{"a mount as a ServiceAccount the cluster does not have fails", "other", "- {objectName: db, objectType: secretsmanager}\n", true},
	}
	for _, c := range cases {
		m := testkit.Mount{Namespace: "team", Pod: "web", UID: "uid-web", ServiceAccount: c.sa,
			Audiences: []string{"sts.amazonaws.com"}, Params: map[string]string{"objects": c.objects}}
		attrs := m.Attributes()
		tokens = append(tokens, tokensOf(t, attrs)...)
		_, err := client.Mount(t.Context(), &v1alpha1.MountRequest{Attributes: attrs, Secrets: "{}", Permission: "420", TargetPath: target})
		if (err != nil) != c.fails {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	return tokens
}

// tokensOf returns the service-account tokens in a Mount's attributes and
// their claims, each of which must stay out of the log.
func tokensOf(t *testing.T, attrs string) []string {
	t.Helper()
	var a map[string]string
	var toks map[string]struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(attrs), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(a["csi.storage.k8s.io/serviceAccount.tokens"]), &toks); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tok := range toks {
		out = append(out, tok.Token)
		if parts := strings.Split(tok.Token, "."); len(parts) == 3 {
			out = append(out, parts[1])
		}
	}
	return out
}

// checkJSONLines checks that every line of out is a JSON object with a
// message and holds none of forbidden, and returns the objects.
func checkJSONLines(t *testing.T, out string, forbidden []string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil || obj["msg"] == nil {
			t.Errorf("line %d is not a JSON object with a msg (%v): %.300s", i+1, err, line)
			continue
		}
		for _, s := range forbidden {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("line %d holds a secret (%.12s...): %.300s", i+1, s, line)
			}
		}
		objs = append(objs, obj)
	}
	if len(objs) < 5 {
		t.Errorf("only %d log lines; the capture missed the daemon's output:\n%s", len(objs), out)
	}
	return objs
}

// wantAudit finds the audit line msg with outcome and checks that its
// keys are fields: the pod as its name and namespace.
func wantAudit(t *testing.T, lines []map[string]any, msg, outcome string) {
	t.Helper()
	for _, l := range lines {
		if l["msg"] != msg || l["outcome"] != outcome {
			continue
		}
		pod, _ := l["pod"].(map[string]any)
		if pod["name"] != "web" || pod["namespace"] != "team" || l["serviceAccount"] == nil || l["files"] == nil || l["duration"] == nil {
			t.Errorf("the audit line %q lacks a field: %v", msg, l)
		}
		return
	}
	t.Errorf("no %q line with outcome %s", msg, outcome)
}
