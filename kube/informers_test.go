package kube

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestClientMakesNoAPICallPerLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		nodeName string
	}{
		{"with NODE_NAME the node's region comes from the informer too", "node-1"},
		{"without NODE_NAME the node is read once and remembered by Regions", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAPIServer(t, [3]string{"shop", "cart", roleCart}, [3]string{"blog", "web", roleNew})
			s.AddPod("shop", "cart-1", "node-1", "cart")
			ctx, logs := logged(t)
			c := startClient(t, ctx, s, Options{NodeName: tt.nodeName})
			if c.saStore == nil || (c.nodeStore != nil) != (tt.nodeName != "") {
				t.Fatalf("informers: ServiceAccounts %v, node %v", c.saStore != nil, c.nodeStore != nil)
			}
			if lines := logs.all(); len(lines) != 1 || !strings.Contains(lines[0], "through informers") {
				t.Errorf("start log = %q, want one line saying informers are used", lines)
			}
			regions := NewRegions(c, "", tt.nodeName)
			// The first region lookup may read the pod and node (no NODE_NAME).
			if r, err := regions.Region(ctx, "", "shop", "cart-1"); err != nil || r != "us-west-2" {
				t.Fatalf("Region = %q, %v", r, err)
			}
			s.ResetCalls()
			for i := 0; i < 1000; i++ {
				ns, sa, want := "shop", "cart", roleCart
				if i%2 == 1 {
					ns, sa, want = "blog", "web", roleNew
				}
				if got, err := c.RoleARN(ctx, ns, sa); err != nil || got != want {
					t.Fatalf("RoleARN(%s/%s) = %q, %v", ns, sa, got, err)
				}
				if r, err := regions.Region(ctx, "", "shop", "cart-1"); err != nil || r != "us-west-2" {
					t.Fatalf("Region = %q, %v", r, err)
				}
			}
			if calls := s.Calls(); len(calls) != 0 {
				t.Errorf("1000 lookups made API calls %v, want none", calls)
			}
		})
	}
}

func TestClientSeesAnAnnotationChangeFromTheWatch(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t, [3]string{"shop", "cart", roleCart})
	ctx, _ := logged(t)
	c := startClient(t, ctx, s, Options{NodeName: "node-1"})
	if got, err := c.RoleARN(ctx, "shop", "cart"); err != nil || got != roleCart {
		t.Fatalf("RoleARN = %q, %v", got, err)
	}
	if err := s.UpdateServiceAccount("shop", "cart", map[string]string{RoleARNAnnotation: roleNew}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new role annotation to be seen", func() bool {
		got, err := c.RoleARN(ctx, "shop", "cart")
		return err == nil && got == roleNew
	})
	if n := s.count("get", "serviceaccounts", ""); n != 0 {
		t.Errorf("the change took %d GETs, want it from the watch alone", n)
	}
}

func TestClientAsksTheAPIServerWhenTheInformerLags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(s *apiServer)
		sa     string
		want   string
		kind   failure.Kind
		frag   string
		gets   int
	}{
		{name: "a ServiceAccount created after the last event is found with one GET",
			change: func(s *apiServer) { s.AddServiceAccount("shop", "new", map[string]string{RoleARNAnnotation: roleNew}) },
			sa:     "new", want: roleNew, gets: 1},
		{name: "an annotation added after the last event is found with one GET, never reported missing",
			change: func(s *apiServer) { s.AddServiceAccount("shop", "bare", map[string]string{RoleARNAnnotation: roleNew}) },
			sa:     "bare", want: roleNew, gets: 1},
		{name: "a ServiceAccount that really has no annotation is reported after one GET",
			sa: "bare", kind: failure.FailedPrecondition, frag: "ServiceAccount shop/bare has no eks.amazonaws.com/role-arn annotation", gets: 1},
		{name: "a ServiceAccount that does not exist is reported after one GET",
			sa: "ghost", kind: failure.FailedPrecondition, frag: "ServiceAccount shop/ghost not found", gets: 1},
		{name: "a ServiceAccount in the informer with a role costs no GET",
			sa: "cart", want: roleCart, gets: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAPIServer(t, [3]string{"shop", "cart", roleCart}, [3]string{"shop", "bare", ""})
			ctx, _ := logged(t)
			c := startClient(t, ctx, s, Options{})
			s.freeze() // the informer lags from now on
			if tt.change != nil {
				tt.change(s)
			}
			got, err := c.RoleARN(ctx, "shop", tt.sa)
			if tt.frag != "" {
				testkit.WantKind(t, err, tt.kind, tt.frag)
			} else if err != nil || got != tt.want {
				t.Errorf("RoleARN = %q, %v; want %q", got, err, tt.want)
			}
			if n := s.count("get", "serviceaccounts", ""); n != tt.gets {
				t.Errorf("GETs = %d, want %d", n, tt.gets)
			}
		})
	}
}

func TestClientSharesOneGETAmongConcurrentLookups(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	ctx, _ := logged(t)
	c := startClient(t, ctx, s, Options{})
	s.freeze()
	s.AddServiceAccount("shop", "new", map[string]string{RoleARNAnnotation: roleNew})
	gate := make(chan struct{})
	var served atomic.Int32
	s.hold("get", "serviceaccounts", gate, &served)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			if got, err := c.RoleARN(ctx, "shop", "new"); err != nil || got != roleNew {
				t.Errorf("RoleARN = %q, %v", got, err)
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // let the lookups meet at the GET
	close(gate)
	wg.Wait()
	if n := served.Load(); n < 1 || n > 2 {
		t.Errorf("50 concurrent lookups made %d GETs, want 1 (2 at most if one arrived late)", n)
	}
}

func TestClientKeepsOnlyWhatItReads(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	s.AddServiceAccount("shop", "cart", map[string]string{
		RoleARNAnnotation: roleCart, "eks.amazonaws.com/token-expiration": "86400",
		"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 4096),
	})
	s.AddNode("node-1", map[string]string{RegionLabel: "eu-west-1"})
	s.AddNode("node-2", map[string]string{RegionLabel: "eu-west-1"})
	ctx, _ := logged(t)
	c := startClient(t, ctx, s, Options{NodeName: "node-1"})

	obj, ok, _ := c.saStore.GetByKey("shop/cart")
	got, isMeta := obj.(*metav1.PartialObjectMetadata)
	if !ok || !isMeta {
		t.Fatalf("the informer holds %T (present %v), want metadata", obj, ok)
	}
	want := map[string]string{RoleARNAnnotation: roleCart, "eks.amazonaws.com/token-expiration": "86400"}
	if len(got.Annotations) != len(want) || got.Annotations[RoleARNAnnotation] != roleCart || got.UID != "" {
		t.Errorf("cached ServiceAccount = %+v, want name, namespace and the eks.amazonaws.com annotations only", got)
	}
	if keys := c.nodeStore.ListKeys(); len(keys) != 1 || keys[0] != "node-1" {
		t.Errorf("the node informer holds %v, want only node-1", keys)
	}
	obj, _, _ = c.nodeStore.GetByKey("node-1")
	if n := obj.(*metav1.PartialObjectMetadata); n.Labels[RegionLabel] != "eu-west-1" || n.UID != "" {
		t.Errorf("cached Node = %+v, want name and labels only", n)
	}
}

func TestTransformsKeepOnlyWhatIsRead(t *testing.T) {
	t.Parallel()
	full := metav1.ObjectMeta{
		Name: "cart", Namespace: "shop", ResourceVersion: "7", UID: "u1",
		Labels:          map[string]string{"app": "cart", RegionLabel: "eu-west-1"},
		Annotations:     map[string]string{RoleARNAnnotation: roleCart, "other": strings.Repeat("x", 4096)},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		OwnerReferences: []metav1.OwnerReference{{Name: "owner"}},
		Finalizers:      []string{"f"},
	}
	sa, _ := stripServiceAccount(&metav1.PartialObjectMetadata{ObjectMeta: full})
	wantSA := metav1.ObjectMeta{Name: "cart", Namespace: "shop", ResourceVersion: "7",
		Annotations: map[string]string{RoleARNAnnotation: roleCart}}
	if got := sa.(*metav1.PartialObjectMetadata).ObjectMeta; got.String() != wantSA.String() {
		t.Errorf("ServiceAccount kept %s, want %s", got.String(), wantSA.String())
	}
	node, _ := stripNode(&metav1.PartialObjectMetadata{ObjectMeta: full})
	wantNode := metav1.ObjectMeta{Name: "cart", ResourceVersion: "7", Labels: full.Labels}
	if got := node.(*metav1.PartialObjectMetadata).ObjectMeta; got.String() != wantNode.String() {
		t.Errorf("Node kept %s, want %s", got.String(), wantNode.String())
	}
	if tomb, _ := stripNode("tombstone"); tomb != "tombstone" {
		t.Errorf("a tombstone was changed to %v", tomb)
	}
}
