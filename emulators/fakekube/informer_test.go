package fakekube_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// eventually polls cond for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// classicListWatch makes a reflector list then watch, as client-go does
// with the WatchListClient feature off or against older API servers.
type classicListWatch struct{ *cache.ListWatch }

func (classicListWatch) IsWatchListSemanticsUnSupported() bool { return true }

func TestInformersSyncAndSeeUpdates(t *testing.T) {
	t.Parallel()
	type informer struct {
		sas   cache.SharedIndexInformer
		nodes cache.SharedIndexInformer
		start func(stop <-chan struct{})
	}
	cases := []struct {
		name string
		// namespace the informer is limited to ("" = all).
		namespace string
		build     func(cs kubernetes.Interface, namespace string) informer
		// wantListCall: the reflector lists before watching (no watch-list).
		wantListCall bool
	}{
		{
			name: "a shared informer factory over all namespaces syncs with watch-list and sees updates",
			build: func(cs kubernetes.Interface, _ string) informer {
				f := informers.NewSharedInformerFactory(cs, 0)
				return informer{sas: f.Core().V1().ServiceAccounts().Informer(), nodes: f.Core().V1().Nodes().Informer(), start: f.Start}
			},
		},
		{
			name:      "a namespaced informer factory sees only its namespace",
			namespace: "team",
			build: func(cs kubernetes.Interface, ns string) informer {
				f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
				return informer{sas: f.Core().V1().ServiceAccounts().Informer(), nodes: f.Core().V1().Nodes().Informer(), start: f.Start}
			},
		},
		{
			name: "a classic reflector lists, then watches from the list's resourceVersion",
			build: func(cs kubernetes.Interface, _ string) informer {
				rest := cs.CoreV1().RESTClient()
				sas := cache.NewSharedIndexInformer(classicListWatch{cache.NewListWatchFromClient(rest, "serviceaccounts", "", fields.Everything())},
					&corev1.ServiceAccount{}, 0, cache.Indexers{})
				nodes := cache.NewSharedIndexInformer(classicListWatch{cache.NewListWatchFromClient(rest, "nodes", "", fields.Everything())},
					&corev1.Node{}, 0, cache.Indexers{})
				return informer{sas: sas, nodes: nodes, start: func(stop <-chan struct{}) {
					go sas.Run(stop)
					go nodes.Run(stop)
				}}
			},
			wantListCall: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, cs := start(t)
			s.AddServiceAccount("team", "app", map[string]string{roleKey: "arn:aws:iam::123456789012:role/one"})
			s.AddServiceAccount("other", "app", nil)
			s.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "us-west-2"})

			inf := tc.build(cs, tc.namespace)
			stop := make(chan struct{})
			defer close(stop)
			inf.start(stop)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if !cache.WaitForCacheSync(ctx.Done(), inf.sas.HasSynced, inf.nodes.HasSynced) {
				t.Fatalf("informers did not sync; calls: %v", s.Calls())
			}
			role := func(ns, name string) (string, bool) {
				o, ok, _ := inf.sas.GetStore().GetByKey(ns + "/" + name)
				if !ok {
					return "", false
				}
				return o.(*corev1.ServiceAccount).Annotations[roleKey], true
			}
			if r, ok := role("team", "app"); !ok || r != "arn:aws:iam::123456789012:role/one" {
				t.Fatalf("after sync team/app has role %q (present %v)", r, ok)
			}
			if _, ok := role("other", "app"); ok == (tc.namespace != "") {
				t.Errorf("other/app present = %v with the informer limited to %q", ok, tc.namespace)
			}

			if err := s.UpdateServiceAccount("team", "app", map[string]string{roleKey: "arn:aws:iam::123456789012:role/two"}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the informer sees the new role annotation", func() bool {
				r, _ := role("team", "app")
				return r == "arn:aws:iam::123456789012:role/two"
			})
			s.AddServiceAccount("team", "new", nil)
			eventually(t, "the informer sees an added ServiceAccount", func() bool { _, ok := role("team", "new"); return ok })
			s.DeleteServiceAccount("team", "new")
			eventually(t, "the informer drops a deleted ServiceAccount", func() bool { _, ok := role("team", "new"); return !ok })
			s.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "eu-west-1"})
			eventually(t, "the node informer sees the new label", func() bool {
				o, ok, _ := inf.nodes.GetStore().GetByKey("node-1")
				return ok && o.(*corev1.Node).Labels["topology.kubernetes.io/region"] == "eu-west-1"
			})

			calls := s.Calls()
			if calls["watch serviceaccounts"] == 0 || calls["watch nodes"] == 0 {
				t.Errorf("calls = %v, want watches of serviceaccounts and nodes", calls)
			}
			if got := calls["list serviceaccounts"] > 0; got != tc.wantListCall {
				t.Errorf("listed serviceaccounts = %v, want %v (calls %v)", got, tc.wantListCall, calls)
			}
		})
	}
}

func TestInformersStayCorrectUnderConcurrentChanges(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().ServiceAccounts().Informer()
	stop := make(chan struct{})
	defer close(stop)
	f.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
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
	wg.Wait()
	eventually(t, "the informer converges on the 100 ServiceAccounts left", func() bool { return len(inf.GetStore().List()) == 100 })
}

func TestInformersNeverSyncWhenListAndWatchAreDenied(t *testing.T) {
	t.Parallel()
	s, cs := start(t)
	s.AddServiceAccount("team", "app", nil)
	s.DenyListWatch(true)
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().ServiceAccounts().Informer()
	stop := make(chan struct{})
	defer close(stop)
	f.Start(stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("the informer synced although list and watch are forbidden")
	}
	if c := s.Calls(); c["watch serviceaccounts"] == 0 || c["list serviceaccounts"] == 0 {
		t.Errorf("calls = %v, want the watch-list attempt and the list fallback, both refused", c)
	}
}
