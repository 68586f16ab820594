package fakekube_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
)

const roleKey = "eks.amazonaws.com/role-arn"

// start returns a started server with a clientset built from its
// kubeconfig, as the daemon builds one from --kubeconfig.
func start(t *testing.T) (*fakekube.Server, kubernetes.Interface) {
	t.Helper()
	s := fakekube.New()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	path, err := s.Kubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("client-go cannot read the kubeconfig: %v", err)
	}
	rc.QPS, rc.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return s, cs
}

func TestGetAnswersWithTypedObjectsAndNotFound(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	s.AddServiceAccount("team", "app", map[string]string{roleKey: "arn:aws:iam::123456789012:role/app"})
	s.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "us-west-2"})
	s.AddPod("team", "web-0", "node-1", "app")
	ctx := context.Background()
	cases := []struct {
		name    string
		get     func() (string, error)
		want    string
		wantErr string // substring; the error must also be NotFound
	}{
		{"a ServiceAccount comes with its annotations", func() (string, error) {
			sa, err := cs.CoreV1().ServiceAccounts("team").Get(ctx, "app", metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return sa.Annotations[roleKey], nil
		}, "arn:aws:iam::123456789012:role/app", ""},
		{"a Node comes with its labels", func() (string, error) {
			n, err := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return n.Labels["topology.kubernetes.io/region"], nil
		}, "us-west-2", ""},
		{"a Pod comes with its node and service account", func() (string, error) {
			p, err := cs.CoreV1().Pods("team").Get(ctx, "web-0", metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return p.Spec.NodeName + " " + p.Spec.ServiceAccountName + " " + string(p.Status.Phase), nil
		}, "node-1 app Running", ""},
		{"a missing ServiceAccount is NotFound, named", func() (string, error) {
			_, err := cs.CoreV1().ServiceAccounts("team").Get(ctx, "nobody", metav1.GetOptions{})
			return "", err
		}, "", `serviceaccounts "nobody" not found`},
		{"a ServiceAccount of another namespace is NotFound", func() (string, error) {
			_, err := cs.CoreV1().ServiceAccounts("other").Get(ctx, "app", metav1.GetOptions{})
			return "", err
		}, "", `serviceaccounts "app" not found`},
		{"a missing Node is NotFound, named", func() (string, error) {
			_, err := cs.CoreV1().Nodes().Get(ctx, "node-2", metav1.GetOptions{})
			return "", err
		}, "", `nodes "node-2" not found`},
		{"a resource the fake does not serve is NotFound", func() (string, error) {
			_, err := cs.CoreV1().ConfigMaps("team").Get(ctx, "x", metav1.GetOptions{})
			return "", err
		}, "", "could not find the requested resource"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if tc.wantErr != "" {
				if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want NotFound containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestDenyListWatchAnswersForbiddenButGetWorks(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	s.AddServiceAccount("team", "app", nil)
	s.AddNode("node-1", nil)
	s.DenyListWatch(true)
	ctx := context.Background()
	cases := []struct {
		name      string
		call      func() error
		forbidden string // "" = must succeed; else a substring of the 403
	}{
		{"listing ServiceAccounts in a namespace is forbidden", func() error {
			_, err := cs.CoreV1().ServiceAccounts("team").List(ctx, metav1.ListOptions{})
			return err
		}, `cannot list resource "serviceaccounts" in API group "" in the namespace "team"`},
		{"listing ServiceAccounts across namespaces is forbidden", func() error {
			_, err := cs.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
			return err
		}, `cannot list resource "serviceaccounts" in API group "" at the cluster scope`},
		{"watching Nodes is forbidden", func() error {
			w, err := cs.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		}, `cannot watch resource "nodes"`},
		{"getting a ServiceAccount still works", func() error {
			_, err := cs.CoreV1().ServiceAccounts("team").Get(ctx, "app", metav1.GetOptions{})
			return err
		}, ""},
		{"getting a Node still works", func() error {
			_, err := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
			return err
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.forbidden == "" {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			if !apierrors.IsForbidden(err) || apierrors.ReasonForError(err) != metav1.StatusReasonForbidden ||
				!strings.Contains(err.Error(), tc.forbidden) {
				t.Fatalf("err = %v, want 403 Forbidden containing %q", err, tc.forbidden)
			}
		})
	}
	t.Run("turning it off lists again", func(t *testing.T) {
		s.DenyListWatch(false)
		l, err := cs.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("list = %v, %v; want one ServiceAccount", l, err)
		}
	})
}

// rawWatch opens a watch with query q and returns its event lines.
func rawWatch(t *testing.T, s *fakekube.Server, path string, q url.Values) (*http.Response, <-chan map[string]any) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	q.Set("watch", "true")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+path+"?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	events := make(chan map[string]any, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				return
			}
			events <- ev
		}
	}()
	return resp, events
}

func next(t *testing.T, events <-chan map[string]any) (typ string, meta map[string]any) {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the watch stream ended")
		}
		obj, _ := ev["object"].(map[string]any)
		meta, _ = obj["metadata"].(map[string]any)
		if ev["type"] != "BOOKMARK" && (obj["kind"] == nil || obj["apiVersion"] != "v1") {
			t.Errorf("event object lacks kind/apiVersion: %v", obj)
		}
		return ev["type"].(string), meta
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return "", nil
}

func listRV(t *testing.T, s *fakekube.Server, path string) string {
	t.Helper()
	resp, err := http.Get(s.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct {
		Kind, APIVersion string
		Metadata         struct{ ResourceVersion string }
		Items            []map[string]any
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	if l.Metadata.ResourceVersion == "" || !strings.HasSuffix(l.Kind, "List") || l.APIVersion != "v1" {
		t.Fatalf("list %s: kind %q apiVersion %q resourceVersion %q", path, l.Kind, l.APIVersion, l.Metadata.ResourceVersion)
	}
	for _, it := range l.Items {
		if it["kind"] != nil {
			t.Errorf("list items carry kind %v; the API server leaves it out", it["kind"])
		}
	}
	return l.Metadata.ResourceVersion
}

func TestWatchStreamsEventsFromAResourceVersion(t *testing.T) {
	t.Parallel()
	const sas = "/api/v1/namespaces/team/serviceaccounts"
	cases := []struct {
		name string
		run  func(t *testing.T, s *fakekube.Server)
	}{
		{"a watch from a list's resourceVersion sees only later changes, chunked", func(t *testing.T, s *fakekube.Server) {
			rv := listRV(t, s, sas)
			resp, events := rawWatch(t, s, sas, url.Values{"resourceVersion": {rv}})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
				len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
				t.Fatalf("status %d, content type %q, transfer encoding %v", resp.StatusCode, resp.Header.Get("Content-Type"), resp.TransferEncoding)
			}
			if err := s.UpdateServiceAccount("team", "app", map[string]string{roleKey: "r2"}); err != nil {
				t.Fatal(err)
			}
			typ, meta := next(t, events)
			ann, _ := meta["annotations"].(map[string]any)
			if typ != "MODIFIED" || ann[roleKey] != "r2" || meta["resourceVersion"] == rv {
				t.Errorf("got %s %v, want MODIFIED with role r2 and a newer resourceVersion than %s", typ, meta, rv)
			}
		}},
		{"a watch from an older resourceVersion replays the changes since", func(t *testing.T, s *fakekube.Server) {
			rv := listRV(t, s, sas)
			s.AddServiceAccount("team", "b", nil)
			s.DeleteServiceAccount("team", "b")
			_, events := rawWatch(t, s, sas, url.Values{"resourceVersion": {rv}})
			for _, want := range []string{"ADDED", "DELETED"} {
				if typ, meta := next(t, events); typ != want || meta["name"] != "b" {
					t.Errorf("got %s %v, want %s of b", typ, meta["name"], want)
				}
			}
		}},
		{"a watch from resourceVersion 0 starts with ADDED for what exists", func(t *testing.T, s *fakekube.Server) {
			_, events := rawWatch(t, s, "/api/v1/serviceaccounts", url.Values{"resourceVersion": {"0"}})
			if typ, meta := next(t, events); typ != "ADDED" || meta["name"] != "app" || meta["namespace"] != "team" {
				t.Errorf("got %s %v, want ADDED team/app", typ, meta)
			}
		}},
		{"a watch-list ends its initial events with the initial-events-end bookmark", func(t *testing.T, s *fakekube.Server) {
			_, events := rawWatch(t, s, sas, url.Values{"sendInitialEvents": {"true"},
				"resourceVersionMatch": {"NotOlderThan"}, "allowWatchBookmarks": {"true"}})
			if typ, _ := next(t, events); typ != "ADDED" {
				t.Errorf("first event %s, want ADDED", typ)
			}
			typ, meta := next(t, events)
			ann, _ := meta["annotations"].(map[string]any)
			if typ != "BOOKMARK" || ann["k8s.io/initial-events-end"] != "true" || meta["resourceVersion"] == "" {
				t.Errorf("got %s %v, want the initial-events-end BOOKMARK", typ, meta)
			}
		}},
		{"a watch with a field selector sees only the named object", func(t *testing.T, s *fakekube.Server) {
			rv := listRV(t, s, sas)
			_, events := rawWatch(t, s, sas, url.Values{"resourceVersion": {rv}, "fieldSelector": {"metadata.name=b"}})
			s.AddServiceAccount("team", "a", nil)
			s.AddServiceAccount("team", "b", nil)
			if typ, meta := next(t, events); typ != "ADDED" || meta["name"] != "b" {
				t.Errorf("got %s %v, want ADDED b only", typ, meta["name"])
			}
		}},
		{"a watch from a compacted resourceVersion is 410 Expired", func(t *testing.T, s *fakekube.Server) {
			rv := listRV(t, s, sas)
			s.AddServiceAccount("team", "b", nil)
			s.Compact()
			resp, err := http.Get(s.URL() + sas + "?watch=true&resourceVersion=" + rv)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var st metav1.Status
			_ = json.NewDecoder(resp.Body).Decode(&st)
			if resp.StatusCode != http.StatusGone || st.Reason != metav1.StatusReasonExpired || st.Kind != "Status" {
				t.Errorf("status %d, %+v; want 410 Expired", resp.StatusCode, st)
			}
		}},
		{"timeoutSeconds ends the stream", func(t *testing.T, s *fakekube.Server) {
			_, events := rawWatch(t, s, sas, url.Values{"resourceVersion": {listRV(t, s, sas)}, "timeoutSeconds": {"1"}})
			select {
			case _, ok := <-events:
				if ok {
					t.Error("an event arrived on a quiet watch")
				}
			case <-time.After(5 * time.Second):
				t.Error("the stream outlived timeoutSeconds=1")
			}
		}},
		{"an unsupported field selector is a 400", func(t *testing.T, s *fakekube.Server) {
			resp, err := http.Get(s.URL() + sas + "?watch=true&fieldSelector=spec.nodeName%3Dx")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := start(t)
			s.AddServiceAccount("team", "app", map[string]string{roleKey: "r1"})
			tc.run(t, s)
		})
	}
}

func TestDiscoveryIsEnoughForClientGo(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.Major != "1" {
		t.Fatalf("ServerVersion = %v, %v", v, err)
	}
	_, lists, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("ServerGroupsAndResources: %v", err)
	}
	var names []string
	for _, l := range lists {
		for _, r := range l.APIResources {
			names = append(names, l.GroupVersion+"/"+r.Name)
		}
	}
	if got := strings.Join(names, ","); got != "v1/nodes,v1/pods,v1/serviceaccounts,authorization.k8s.io/v1/selfsubjectaccessreviews" {
		t.Errorf("resources = %s", got)
	}
	if c := s.Calls(); c["get /version"] != 1 || c["get /api"] == 0 {
		t.Errorf("calls = %v, want discovery counted by path", c)
	}
}

func TestSelfSubjectAccessReviewsAnswerAsTheRBACWould(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		deny     bool
		verb     string
		resource string
		group    string
		allowed  bool
	}{
		{"get of ServiceAccounts is allowed", false, "get", "serviceaccounts", "", true},
		{"list of ServiceAccounts is allowed", false, "list", "serviceaccounts", "", true},
		{"watch of Nodes is allowed", false, "watch", "nodes", "", true},
		{"list is denied under DenyListWatch", true, "list", "serviceaccounts", "", false},
		{"watch is denied under DenyListWatch", true, "watch", "nodes", "", false},
		{"get stays allowed under DenyListWatch", true, "get", "nodes", "", true},
		{"a write is denied", false, "update", "serviceaccounts", "", false},
		{"a resource the fake does not serve is denied", false, "get", "secrets", "", false},
		{"a resource of another group is denied", false, "get", "serviceaccounts", "apps", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, cs := start(t)
			s.DenyListWatch(tc.deny)
			r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: tc.verb, Group: tc.group, Version: "v1", Resource: tc.resource,
				}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status.Allowed != tc.allowed || r.Status.Denied {
				t.Errorf("status = %+v, want allowed %v", r.Status, tc.allowed)
			}
			if s.Calls()["create selfsubjectaccessreviews"] != 1 {
				t.Errorf("calls = %v", s.Calls())
			}
		})
	}
}

func TestWritesAreRefusedAndCounted(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	_, err := cs.CoreV1().ServiceAccounts("team").Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsMethodNotSupported(err) {
		t.Fatalf("create = %v, want 405 MethodNotAllowed", err)
	}
	if s.Calls()["create serviceaccounts"] != 1 {
		t.Errorf("calls = %v", s.Calls())
	}
}

func TestCallsAreCountedByVerbAndResource(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	s.AddServiceAccount("team", "app", nil)
	s.AddNode("node-1", nil)
	s.AddPod("team", "web-0", "node-1", "app")
	ctx := context.Background()
	_, _ = cs.CoreV1().ServiceAccounts("team").Get(ctx, "app", metav1.GetOptions{})
	_, _ = cs.CoreV1().ServiceAccounts("team").Get(ctx, "missing", metav1.GetOptions{})
	_, _ = cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	_, _ = cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	_, _ = cs.CoreV1().Pods("team").Get(ctx, "web-0", metav1.GetOptions{})
	want := map[string]int{"get serviceaccounts": 2, "get nodes": 1, "list nodes": 1, "get pods": 1}
	if got := s.Calls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	s.ResetCalls()
	if got := s.Calls(); len(got) != 0 {
		t.Errorf("after ResetCalls: %v", got)
	}
}

func TestKubeconfigNeedsAStartedServer(t *testing.T) {
	t.Parallel()
	if _, err := fakekube.New().Kubeconfig(t.TempDir()); err == nil || !strings.Contains(err.Error(), "before Start") {
		t.Errorf("err = %v, want one that says to Start first", err)
	}
}

func TestConcurrentChangesReadsAndWatchesAreSafe(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	w, err := cs.CoreV1().ServiceAccounts("team").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				name := fmt.Sprintf("sa-%d-%d", i, j)
				s.AddServiceAccount("team", name, map[string]string{roleKey: "r"})
				_, _ = cs.CoreV1().ServiceAccounts("team").Get(context.Background(), name, metav1.GetOptions{})
				if j%2 == 0 {
					s.DeleteServiceAccount("team", name)
				}
				_ = s.Calls()
			}
		})
	}
	events := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range w.ResultChan() {
			if events++; events == 300 {
				return
			}
		}
	}()
	wg.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("the watch delivered %d of 300 events", events)
	}
	l, err := cs.CoreV1().ServiceAccounts("team").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(l.Items) != 100 {
		t.Fatalf("list after the storm: %d items, %v; want 100", len(l.Items), err)
	}
}
