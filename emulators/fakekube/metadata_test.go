package fakekube_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
)

var (
	saGVR   = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	nodeGVR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// startMetadata returns a started server and client-go's metadata client
// for it.
func startMetadata(t *testing.T) (*fakekube.Server, metadata.Interface) {
	t.Helper()
	s, _ := start(t)
	mc, err := metadata.NewForConfig(&rest.Config{Host: s.URL(), QPS: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return s, mc
}

func TestTheMetadataClientGetsListsAndWatches(t *testing.T) {
	t.Parallel()
	s, mc := startMetadata(t)
	s.AddServiceAccount("team", "app", map[string]string{roleKey: "r1"})
	s.AddServiceAccount("other", "app", nil)
	s.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "us-west-2"})
	ctx := context.Background()

	sa, err := mc.Resource(saGVR).Namespace("team").Get(ctx, "app", metav1.GetOptions{})
	if err != nil || sa.Annotations[roleKey] != "r1" || sa.UID == "" {
		t.Fatalf("Get ServiceAccount = %+v, %v; want its annotations and UID", sa, err)
	}
	n, err := mc.Resource(nodeGVR).Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil || n.Labels["topology.kubernetes.io/region"] != "us-west-2" {
		t.Fatalf("Get Node = %+v, %v; want its labels", n, err)
	}
	if _, err := mc.Resource(saGVR).Namespace("team").Get(ctx, "ghost", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get of a missing ServiceAccount: %v, want NotFound", err)
	}

	l, err := mc.Resource(saGVR).List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 2 || l.ResourceVersion == "" {
		t.Fatalf("List = %+v, %v; want both ServiceAccounts and a resourceVersion", l, err)
	}
	l, err = mc.Resource(nodeGVR).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "node-2").String()})
	if err != nil || len(l.Items) != 0 {
		t.Errorf("List with a field selector = %+v, %v; want nothing", l, err)
	}

	w, err := mc.Resource(saGVR).Namespace("team").Watch(ctx, metav1.ListOptions{ResourceVersion: sa.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := s.UpdateServiceAccount("team", "app", map[string]string{roleKey: "r2"}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		p, ok := ev.Object.(*metav1.PartialObjectMetadata)
		if ev.Type != watch.Modified || !ok || p.Annotations[roleKey] != "r2" {
			t.Errorf("event %s %#v, want MODIFIED with the new annotation as PartialObjectMetadata", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
}

// TestMetadataInformersSync: informers over the metadata client, built as
// client-go's metadatainformer builds them, sync with watch-list (a single
// watch) or list-then-watch, and see changes.
func TestMetadataInformersSync(t *testing.T) {
	t.Parallel()
	for _, watchList := range []bool{true, false} {
		name := "with watch-list"
		if !watchList {
			name = "with a list, then a watch"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, mc := startMetadata(t)
			s.AddServiceAccount("team", "app", map[string]string{roleKey: "r1"})
			c := mc.Resource(saGVR).Namespace("")
			lw := &cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					return c.List(ctx, o)
				},
				WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					return c.Watch(ctx, o)
				},
			}
			var lister cache.ListerWatcher = cache.ToListWatcherWithWatchListSemantics(lw, mc)
			if !watchList {
				lister = classicListWatch{lw}
			}
			inf := cache.NewSharedIndexInformer(lister, &metav1.PartialObjectMetadata{}, 0, cache.Indexers{})
			stop := make(chan struct{})
			defer close(stop)
			go inf.Run(stop)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
				t.Fatalf("the informer did not sync; calls %v", s.Calls())
			}
			if err := s.UpdateServiceAccount("team", "app", map[string]string{roleKey: "r2"}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the informer sees the new annotation", func() bool {
				o, ok, _ := inf.GetStore().GetByKey("team/app")
				return ok && o.(*metav1.PartialObjectMetadata).Annotations[roleKey] == "r2"
			})
			if listed := s.Calls()["list serviceaccounts"] > 0; listed == watchList {
				t.Errorf("calls %v: listed %v with watch-list %v", s.Calls(), listed, watchList)
			}
		})
	}
}

// get sends a GET with this Accept header and decodes the JSON answer.
func get(t *testing.T, s *fakekube.Server, path, accept string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestAcceptDecidesBetweenObjectsAndMetadata(t *testing.T) {
	t.Parallel()
	const (
		protobuf    = "application/vnd.kubernetes.protobuf"
		partial     = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
		partialList = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
		one         = "/api/v1/namespaces/team/serviceaccounts/app"
		all         = "/api/v1/serviceaccounts"
	)
	cases := []struct {
		name, path, accept string
		code               int
		kind               string // of the answer ("" for a 406)
	}{
		{"no Accept header gets the object", one, "", 200, "ServiceAccount"},
		{"plain JSON gets the object", one, "application/json", 200, "ServiceAccount"},
		{"*/* gets the object", one, "*/*", 200, "ServiceAccount"},
		{"protobuf alone still gets JSON, the only encoding the fake speaks", one, protobuf, 200, "ServiceAccount"},
		{"PartialObjectMetadata gets the metadata", one, partial, 200, "PartialObjectMetadata"},
		{"the metadata client's header gets the metadata", one, protobuf + ";as=PartialObjectMetadata;g=meta.k8s.io;v=v1," + partial + ",application/json", 200, "PartialObjectMetadata"},
		{"PartialObjectMetadataList gets a list of metadata", all, partialList, 200, "PartialObjectMetadataList"},
		{"a get asking for a list form only is not acceptable", one, partialList, 406, ""},
		{"a list asking for the single form only is not acceptable", all, partial, 406, ""},
		{"a Table is not served", one, "application/json;as=Table;g=meta.k8s.io;v=v1", 406, ""},
		{"another version of the metadata is not served", one, "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v2", 406, ""},
		{"a form the fake does not serve falls back to a later plain range", one, "application/json;as=Table;g=meta.k8s.io;v=v1, application/json", 200, "ServiceAccount"},
	}
	s, _ := start(t)
	s.AddServiceAccount("team", "app", map[string]string{roleKey: "r1"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, body := get(t, s, tc.path, tc.accept)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %v", code, tc.code, body)
			}
			if tc.code == 406 {
				if body["reason"] != "NotAcceptable" || !strings.Contains(body["message"].(string), "PartialObjectMetadata") {
					t.Errorf("406 body %v, want reason NotAcceptable listing what is served", body)
				}
				return
			}
			if body["kind"] != tc.kind {
				t.Errorf("kind %v, want %s", body["kind"], tc.kind)
			}
			metadataOnly := strings.HasPrefix(tc.kind, "PartialObjectMetadata")
			if metadataOnly != (body["apiVersion"] == "meta.k8s.io/v1") {
				t.Errorf("apiVersion %v for kind %v", body["apiVersion"], body["kind"])
			}
			if items, ok := body["items"].([]any); ok {
				if len(items) != 1 || items[0].(map[string]any)["kind"] != "PartialObjectMetadata" {
					t.Errorf("items %v, want one PartialObjectMetadata with its kind", items)
				}
			}
		})
	}
}

func TestAMetadataWatchSendsMetadataOnly(t *testing.T) {
	t.Parallel()
	s, _ := start(t)
	s.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "us-west-2"})
	q := url.Values{"watch": {"true"}, "sendInitialEvents": {"true"}, "resourceVersionMatch": {"NotOlderThan"}, "allowWatchBookmarks": {"true"}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/api/v1/nodes?"+q.Encode(), nil)
	req.Header.Set("Accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	next := func() (string, map[string]any) {
		var ev struct {
			Type   string
			Object map[string]any
		}
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		return ev.Type, ev.Object
	}
	check := func(wantType string) {
		typ, obj := next()
		if typ != wantType || obj["kind"] != "PartialObjectMetadata" || obj["apiVersion"] != "meta.k8s.io/v1" || obj["status"] != nil {
			t.Errorf("event %s %v, want %s of a PartialObjectMetadata", typ, obj, wantType)
		}
	}
	check("ADDED")
	check("BOOKMARK")
	s.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "eu-west-1"})
	check("MODIFIED")
	s.DeleteNode("node-1")
	check("DELETED")
}
