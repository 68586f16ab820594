package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
)

// captureLogs sends klog's output (every verbosity up to 5) to a buffer for
// the rest of the test. klog is process-wide: such tests never run in
// parallel.
func captureLogs(t *testing.T) *syncBuffer {
	t.Helper()
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("v", "5")
	buf := &syncBuffer{}
	klog.SetOutput(buf)
	t.Cleanup(func() {
		klog.Flush()
		_ = fs.Set("logtostderr", "true")
		_ = fs.Set("v", "0")
	})
	return buf
}

// syncBuffer is a buffer klog may write from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoSecretReachesLogsErrorsOrMetrics runs Mounts down every path that
// handles a value, a token or a credential, successful and failing, with
// secret values and tokens that carry a unique marker, and scans everything
// the daemon says: the log at verbosity 5, every error the driver receives,
// and the metrics. Neither the marker, a token, nor a credential the fake
// AWS issued may appear. (The daemon emits no Kubernetes events.)
func TestNoSecretReachesLogsErrorsOrMetrics(t *testing.T) {
	const marker = "SEKRIT-7f3a9c"
	logs := captureLogs(t)
	f, url := startFake(t)
	f.PutSecretString("us-west-2", "json", `{"user":"`+marker+`-user","n":42,"pw":"`+marker+`-pw"}`)
	f.PutSecretString("us-west-2", "plain", marker+"-plain")
	f.PutSecretString("us-west-2", "denied", marker+"-denied")
	f.PutParameter("us-west-2", "/p", "SecureString", marker+"-param")
	f.DenySecret(role, "denied")
	agent := echoingAgent(t)
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: faultTTL, staleMax: time.Minute,
		podIdentityURL: agent.URL, kube: cluster(serviceAccount("team", "app", role))})
	p := pod{ns: "team", name: "web", sa: "app"}
	var tokens []string
	mount := func(p pod, params map[string]string) error {
		attrs := p.attributes(params)
		tokens = append(tokens, tokensIn(attrs)...)
		_, err := d.client.Mount(t.Context(), mountRequest(attrs, `{"x":"`+marker+`-nodepublish"}`))
		return err
	}
	obj := func(objects string) map[string]string {
		return map[string]string{"region": "us-west-2", "objects": objects}
	}

	var errs []error
	for _, c := range []struct {
		name   string
		p      pod
		params map[string]string
	}{
		{"a successful mount with jmesPath", p, obj("- {objectName: json, objectType: secretsmanager, jmesPath: [{path: user, objectAlias: u}]}\n- {objectName: plain, objectType: secretsmanager}\n- {objectName: /p, objectType: ssmparameter}\n")},
		{"a jmesPath that selects a number", p, obj("- {objectName: json, objectType: secretsmanager, jmesPath: [{path: n, objectAlias: n}]}\n")},
		{"jmesPath on a value that is not JSON", p, obj("- {objectName: plain, objectType: secretsmanager, jmesPath: [{path: a, objectAlias: a}]}\n")},
		{"a function given the wrong type of value", p, obj("- {objectName: json, objectType: secretsmanager, jmesPath: [{path: 'abs(user)', objectAlias: a}]}\n")},
		{"a denied secret", p, obj("- {objectName: denied, objectType: secretsmanager}\n")},
		{"a missing secret", p, obj("- {objectName: missing, objectType: secretsmanager}\n")},
		{"an expired token", pod{ns: "team", name: "web", sa: "app", tokenExp: time.Now().Add(-time.Minute)}, obj("- {objectName: plain, objectType: secretsmanager}\n")},
		{"a token for another ServiceAccount", pod{ns: "team", name: "web", sa: "other"}, obj("- {objectName: plain, objectType: secretsmanager}\n")},
		{"a Pod Identity agent that echoes the token", p, map[string]string{"region": "us-west-2", "usePodIdentity": "true", "objects": "- {objectName: plain, objectType: secretsmanager}\n"}},
	} {
		if err := mount(c.p, c.params); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
	}
	// A stale value served during an outage logs a line of its own.
	time.Sleep(faultTTL + 50*time.Millisecond)
	f.Inject(fakeaws.Fault{Service: "secretsmanager", Status: 500})
	if err := mount(p, obj("- {objectName: plain, objectType: secretsmanager}\n")); err != nil {
		t.Errorf("the stale path was not taken: %v", err)
	}
	if len(errs) < 7 {
		t.Errorf("only %d of the failing paths failed: %v", len(errs), errs)
	}

	forbidden := append([]string{marker}, tokens...)
	for _, tok := range tokens {
		if parts := strings.Split(tok, "."); len(parts) == 3 {
			forbidden = append(forbidden, parts[1])
		}
	}
	forbidden = append(forbidden, f.IssuedSecrets()...)
	klog.Flush()
	scan := map[string]string{"the log": logs.String(), "the metrics": metricsText(t, d)}
	for i, err := range errs {
		scan[fmt.Sprintf("error %d", i)] = status.Convert(err).Message()
	}
	for where, text := range scan {
		for _, s := range forbidden {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s holds a secret (%.12s...): %.300s", where, s, text)
			}
		}
	}
	if !strings.Contains(logs.String(), "mount failed") || !strings.Contains(logs.String(), "serving the last good value") {
		t.Errorf("the log capture missed lines it should hold:\n%.2000s", logs.String())
	}
}

// echoingAgent is a Pod Identity agent that refuses every request and
// quotes the Authorization header it got, as a careless agent might.
func echoingAgent(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"bad token `+r.Header.Get("Authorization")+`"}`, http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tokensIn returns the service-account tokens in a Mount's attributes.
func tokensIn(attrs string) []string {
	var a map[string]string
	_ = json.Unmarshal([]byte(attrs), &a)
	var toks map[string]struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal([]byte(a["csi.storage.k8s.io/serviceAccount.tokens"]), &toks)
	var out []string
	for _, v := range toks {
		out = append(out, v.Token)
	}
	return out
}

func mountRequest(attrs, secrets string) *v1alpha1.MountRequest {
	return &v1alpha1.MountRequest{Attributes: attrs, Secrets: secrets, TargetPath: "/pods/web/vol", Permission: "420"}
}

func metricsText(t *testing.T, d *daemon) string {
	mfs, err := d.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		_ = enc.Encode(mf)
	}
	return buf.String()
}
