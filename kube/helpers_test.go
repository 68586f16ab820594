package kube

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

const (
	roleCart = "arn:aws:iam::123456789012:role/cart"
	roleNew  = "arn:aws:iam::123456789012:role/cart-v2"
)

// apiServer is fakekube over real HTTP behind a front that can answer some
// requests itself (refuse them, hold them) and freeze watches (let them
// run, and swallow whatever they send from then on: an informer that lags
// forever). Calls counts what reached fakekube; requests, everything.
type apiServer struct {
	*fakekube.Server
	url     string
	closing chan struct{}
	frozen  atomic.Bool

	mu       sync.Mutex
	reactors []reactor
	requests []string // "verb resource?query", in order
}

// reactor answers verb on resource when react returns true.
type reactor struct {
	verb, resource string
	react          func(w http.ResponseWriter, r *http.Request) bool
}

// newAPIServer serves these ServiceAccounts (role "" = no annotation) and
// node-1 in us-west-2.
func newAPIServer(t *testing.T, sas ...[3]string) *apiServer {
	t.Helper()
	a := &apiServer{Server: fakekube.New(), closing: make(chan struct{})}
	for _, sa := range sas {
		var ann map[string]string
		if sa[2] != "" {
			ann = map[string]string{RoleARNAnnotation: sa[2]}
		}
		a.AddServiceAccount(sa[0], sa[1], ann)
	}
	a.AddNode("node-1", map[string]string{RegionLabel: "us-west-2"})
	hs := httptest.NewServer(http.HandlerFunc(a.serve))
	a.url = hs.URL
	t.Cleanup(func() {
		close(a.closing)
		a.Server.Close() // ends fakekube's watch streams
		hs.Close()
	})
	return a
}

func (a *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	verb, resource := classify(r)
	a.mu.Lock()
	a.requests = append(a.requests, verb+" "+resource+"?"+r.URL.RawQuery)
	reactors := slices.Clone(a.reactors)
	a.mu.Unlock()
	for _, re := range reactors {
		if re.verb == verb && re.resource == resource && re.react(w, r) {
			return
		}
	}
	if verb == "watch" {
		w = &freezable{ResponseWriter: w, frozen: &a.frozen}
	}
	a.Server.ServeHTTP(w, r)
}

// classify names a request's verb and resource as RBAC does.
func classify(r *http.Request) (verb, resource string) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(r.Method), r.URL.Path
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	switch {
	case r.Method == http.MethodPost:
		verb = "create"
	case r.URL.Query().Get("watch") == "true":
		verb = "watch"
	case len(parts) > 1:
		verb = "get"
	default:
		verb = "list"
	}
	return verb, parts[0]
}

func (a *apiServer) react(verb, resource string, fn func(w http.ResponseWriter, r *http.Request) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reactors = append(a.reactors, reactor{verb: verb, resource: resource, react: fn})
}

// fail answers verb on resource with err's Status.
func (a *apiServer) fail(verb, resource string, err *apierrors.StatusError) {
	a.react(verb, resource, func(w http.ResponseWriter, _ *http.Request) bool {
		writeStatus(w, err)
		return true
	})
}

// forbid answers verb on resource with 403, as get-only RBAC does.
func (a *apiServer) forbid(verb, resource string) {
	a.fail(verb, resource, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New("get only")))
}

// denyReviews answers every SelfSubjectAccessReview with "not allowed".
func (a *apiServer) denyReviews() {
	a.react("create", "selfsubjectaccessreviews", func(w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","status":{"allowed":false}}`))
		return true
	})
}

// hold keeps each verb on resource until gate is closed, then lets it
// through, counting it in served.
func (a *apiServer) hold(verb, resource string, gate <-chan struct{}, served *atomic.Int32) {
	a.react(verb, resource, func(_ http.ResponseWriter, r *http.Request) bool {
		select {
		case <-gate:
			served.Add(1)
			return false
		case <-r.Context().Done():
		case <-a.closing:
		}
		return true
	})
}

// freeze makes every watch, open or to come, deliver nothing more.
func (a *apiServer) freeze() { a.frozen.Store(true) }

// count returns how many requests had this verb and resource and, when
// query is set, a query containing it.
func (a *apiServer) count(verb, resource, query string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.requests {
		head, q, _ := strings.Cut(r, "?")
		if head == verb+" "+resource && strings.Contains(q, query) {
			n++
		}
	}
	return n
}

// kubeconfig writes a kubeconfig for the front, as the daemon reads one.
func (a *apiServer) kubeconfig(t *testing.T) string {
	t.Helper()
	return writeKubeconfig(t, a.url)
}

func writeKubeconfig(t *testing.T, url string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: url}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	cfg.CurrentContext = "test"
	path := t.TempDir() + "/kubeconfig"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// freezable is a watch's answer that swallows everything once frozen.
type freezable struct {
	http.ResponseWriter
	frozen *atomic.Bool
}

func (f *freezable) Write(p []byte) (int, error) {
	if f.frozen.Load() {
		return len(p), nil
	}
	return f.ResponseWriter.Write(p)
}

func (f *freezable) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok && !f.frozen.Load() {
		fl.Flush()
	}
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.ErrStatus
	st.Kind, st.APIVersion, st.Status = "Status", "v1", "Failure"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(&st)
}

// startClient starts a Client against a as the daemon does (a kubeconfig,
// then Start), failing the test if it cannot.
func startClient(t *testing.T, ctx context.Context, a *apiServer, opts Options) *Client {
	t.Helper()
	c, err := tryStart(t, ctx, a, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}

func tryStart(t *testing.T, ctx context.Context, a *apiServer, opts Options) (*Client, error) {
	t.Helper()
	opts.Kubeconfig, opts.QPS, opts.Burst, opts.UserAgent = a.kubeconfig(t), 1000, 1000, "kube-test"
	return Start(ctx, opts)
}

// direct returns the direct reads (no informer, no cache) against a.
func direct(t *testing.T, a *apiServer) *api {
	t.Helper()
	rc, err := restConfig(Options{Kubeconfig: a.kubeconfig(t), QPS: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	d, err := newAPI(rc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// logLines records what the client logs through the context's logger.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// logged returns a context whose klog logger records into the result, and
// which ends with the test (stopping the informers).
func logged(t *testing.T) (context.Context, *logLines) {
	l := &logLines{}
	logger := funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, args)
	}, funcr.Options{})
	return klog.NewContext(t.Context(), logger), l
}

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is an injectable clock.
func newClock() *testkit.Clock { return testkit.NewClock(t0) }

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
