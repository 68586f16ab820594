package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func node(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func pod(ns, name, nodeName string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{NodeName: nodeName}}
}

// gets counts the GETs of a resource the fake clientset served.
func gets(c *fake.Clientset, resource string) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == resource {
			n++
		}
	}
	return n
}

func TestDirectLookupRoleARN(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:iam::123456789012:role/cart"
	tests := []struct {
		name      string
		objects   []runtime.Object
		reactErr  error
		want      string
		kind      failure.Kind
		fragments []string
	}{
		{name: "the role annotation of the ServiceAccount is returned",
			objects: []runtime.Object{serviceAccount("shop", "cart", arn)}, want: arn},
		{name: "a missing ServiceAccount is a precondition naming it",
			kind: failure.FailedPrecondition, fragments: []string{"ServiceAccount shop/cart not found"}},
		{name: "a ServiceAccount without the annotation says how to fix it",
			objects:   []runtime.Object{serviceAccount("shop", "cart", "")},
			kind:      failure.FailedPrecondition,
			fragments: []string{`ServiceAccount shop/cart has no eks.amazonaws.com/role-arn annotation; annotate it with the IAM role to assume, or set usePodIdentity: "true"`}},
		{name: "a ServiceAccount the daemon may not read points at RBAC",
			reactErr: apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, "cart", errors.New("no")),
			kind:     failure.FailedPrecondition, fragments: []string{"ClusterRole", "serviceaccounts"}},
		{name: "an API server failure is unavailable",
			reactErr: apierrors.NewInternalError(errors.New("etcd down")),
			kind:     failure.Unavailable, fragments: []string{"ServiceAccount shop/cart"}},
		{name: "an API server timeout is a timeout",
			reactErr: apierrors.NewTimeoutError("slow", 1),
			kind:     failure.Timeout, fragments: []string{"ServiceAccount shop/cart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientset(tt.objects...)
			if tt.reactErr != nil {
				c.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tt.reactErr
				})
			}
			got, err := NewDirectLookup(c).RoleARN(context.Background(), "shop", "cart")
			if tt.fragments == nil {
				if err != nil || got != tt.want {
					t.Fatalf("RoleARN = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			wantKind(t, err, tt.kind, tt.fragments...)
		})
	}
}

func TestDirectLookupNodesAndPods(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset(
		node("n-new", map[string]string{RegionLabel: "eu-west-1", DeprecatedRegionLabel: "us-east-1"}),
		node("n-old", map[string]string{DeprecatedRegionLabel: "us-east-2"}),
		node("n-none", nil),
		pod("shop", "cart-1", "n-new"),
		pod("shop", "pending", ""),
	)
	l := NewDirectLookup(c)
	ctx := context.Background()

	regions := []struct {
		name, node, want string
	}{
		{"the topology region label is read", "n-new", "eu-west-1"},
		{"the deprecated failure-domain label is the fallback", "n-old", "us-east-2"},
		{"a node without either label has no region", "n-none", ""},
	}
	for _, tt := range regions {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.NodeRegion(ctx, tt.node)
			if err != nil || got != tt.want {
				t.Errorf("NodeRegion(%s) = %q, %v; want %q", tt.node, got, err, tt.want)
			}
		})
	}
	t.Run("a missing node is a precondition naming it", func(t *testing.T) {
		_, err := l.NodeRegion(ctx, "ghost")
		wantKind(t, err, failure.FailedPrecondition, "Node ghost not found")
	})
	t.Run("the pod's node name is read", func(t *testing.T) {
		got, err := l.PodNodeName(ctx, "shop", "cart-1")
		if err != nil || got != "n-new" {
			t.Errorf("PodNodeName = %q, %v", got, err)
		}
	})
	t.Run("an unscheduled pod is a precondition", func(t *testing.T) {
		_, err := l.PodNodeName(ctx, "shop", "pending")
		wantKind(t, err, failure.FailedPrecondition, "shop/pending")
	})
	t.Run("a missing pod is a precondition naming it", func(t *testing.T) {
		_, err := l.PodNodeName(ctx, "shop", "ghost")
		wantKind(t, err, failure.FailedPrecondition, "Pod shop/ghost not found")
	})
}

// countingLookup is a Lookup over fixed maps that counts calls.
type countingLookup struct {
	regions  map[string]string // node -> region
	podNodes map[string]string // ns/pod -> node
	err      error

	nodeCalls, podCalls atomic.Int32
}

func (l *countingLookup) RoleARN(context.Context, string, string) (string, error) {
	return "", errors.New("not used")
}

func (l *countingLookup) NodeRegion(_ context.Context, n string) (string, error) {
	l.nodeCalls.Add(1)
	if l.err != nil {
		return "", l.err
	}
	r, ok := l.regions[n]
	if !ok {
		return "", failure.New(failure.FailedPrecondition, "Node %s not found", n)
	}
	return r, nil
}

func (l *countingLookup) PodNodeName(_ context.Context, ns, p string) (string, error) {
	l.podCalls.Add(1)
	n, ok := l.podNodes[ns+"/"+p]
	if !ok {
		return "", failure.New(failure.FailedPrecondition, "Pod %s/%s not found", ns, p)
	}
	return n, nil
}

func TestResolveRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                            string
		class, env, nodeName, namespace string
		pod                             string
		want                            string
		wantNodeCalls, wantPodCalls     int32
		kind                            failure.Kind
		fragments                       []string
	}{
		{name: "the class's region wins over everything", class: "ap-south-1", env: "us-east-1", nodeName: "n1", pod: "p1",
			want: "ap-south-1"},
		{name: "the daemon's AWS_REGION comes next", env: "us-east-1", nodeName: "n1", pod: "p1",
			want: "us-east-1"},
		{name: "then the region label of the daemon's node", nodeName: "n1", pod: "p2",
			want: "eu-west-1", wantNodeCalls: 1},
		{name: "without NODE_NAME the pod's node is read", pod: "p2",
			want: "eu-central-1", wantNodeCalls: 1, wantPodCalls: 1},
		{name: "a node without a region label is a precondition naming the node", nodeName: "bare", pod: "p1",
			wantNodeCalls: 1, kind: failure.FailedPrecondition, fragments: []string{"node bare has no topology.kubernetes.io/region label", "set region in the SecretProviderClass"}},
		{name: "without NODE_NAME or a pod name there is nothing to read",
			kind: failure.FailedPrecondition, fragments: []string{"no region"}},
		{name: "a lookup failure is returned", pod: "ghost",
			wantPodCalls: 1, kind: failure.FailedPrecondition, fragments: []string{"Pod shop/ghost not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &countingLookup{
				regions:  map[string]string{"n1": "eu-west-1", "n2": "eu-central-1", "bare": ""},
				podNodes: map[string]string{"shop/p1": "n1", "shop/p2": "n2"},
			}
			got, err := ResolveRegion(context.Background(), l, tt.class, tt.env, tt.nodeName, "shop", tt.pod)
			if tt.fragments != nil {
				wantKind(t, err, tt.kind, tt.fragments...)
			} else if err != nil || got != tt.want {
				t.Errorf("ResolveRegion = %q, %v; want %q", got, err, tt.want)
			}
			if l.nodeCalls.Load() != tt.wantNodeCalls || l.podCalls.Load() != tt.wantPodCalls {
				t.Errorf("node lookups %d, pod lookups %d; want %d, %d",
					l.nodeCalls.Load(), l.podCalls.Load(), tt.wantNodeCalls, tt.wantPodCalls)
			}
		})
	}
}

func TestRegionsReadsANodesRegionOnce(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset(node("n1", map[string]string{RegionLabel: "eu-west-1"}))
	r := NewRegions(NewDirectLookup(c), "", "n1")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := r.Region(context.Background(), "", "shop", "p"); err != nil || got != "eu-west-1" {
				t.Errorf("Region = %q, %v", got, err)
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 10; i++ {
		if got, err := r.Region(context.Background(), "", "shop", "p"); err != nil || got != "eu-west-1" {
			t.Fatalf("Region = %q, %v", got, err)
		}
	}
	if n := gets(c, "nodes"); n != 1 {
		t.Errorf("the node was read %d times, want once", n)
	}
}

func TestRegionsAsksAgainForANodeWithoutTheLabel(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset(node("n1", nil))
	r := NewRegions(NewDirectLookup(c), "", "n1")
	ctx := context.Background()
	if _, err := r.Region(ctx, "", "shop", "p"); failure.KindOf(err) != failure.FailedPrecondition {
		t.Fatalf("Region on an unlabelled node: %v", err)
	}
	labelled := node("n1", map[string]string{RegionLabel: "eu-west-1"})
	if _, err := c.CoreV1().Nodes().Update(ctx, labelled, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := r.Region(ctx, "", "shop", "p")
	if err != nil || got != "eu-west-1" {
		t.Fatalf("Region after labelling = %q, %v", got, err)
	}
}

func TestRegionsUsesTheDaemonsRegionWithoutAnyLookup(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset()
	r := NewRegions(NewDirectLookup(c), "us-west-2", "n1")
	got, err := r.Region(context.Background(), "", "shop", "p")
	if err != nil || got != "us-west-2" {
		t.Fatalf("Region = %q, %v", got, err)
	}
	if len(c.Actions()) != 0 {
		t.Errorf("Kubernetes API calls: %v", c.Actions())
	}
}

// gatedLookup answers NodeRegion only once gate is closed, or fails with
// its context's error when that context ends first.
type gatedLookup struct {
	countingLookup
	gate    chan struct{}
	entered chan struct{}
}

func (l *gatedLookup) NodeRegion(ctx context.Context, n string) (string, error) {
	l.nodeCalls.Add(1)
	l.entered <- struct{}{}
	select {
	case <-l.gate:
		return l.regions[n], nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func TestRegionsOneCallersCancellationDoesNotFailTheOthers(t *testing.T) {
	t.Parallel()
	l := &gatedLookup{countingLookup: countingLookup{regions: map[string]string{"n1": "eu-west-1"}},
		gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	r := NewRegions(l, "", "n1")

	first, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := r.Region(first, "", "shop", "p1")
		firstErr <- err
	}()
	<-l.entered // the shared lookup is under way
	type answer struct {
		region string
		err    error
	}
	second := make(chan answer, 1)
	go func() {
		got, err := r.Region(context.Background(), "", "shop", "p2")
		second <- answer{got, err}
	}()
	time.Sleep(20 * time.Millisecond) // let the second caller join the lookup

	cancelFirst()
	select {
	case err := <-firstErr:
		wantKind(t, err, failure.Timeout, "Node n1")
	case <-time.After(2 * time.Second):
		t.Fatal("the cancelled caller was still waiting 2s after its cancellation")
	}
	close(l.gate)
	got := <-second
	if got.err != nil || got.region != "eu-west-1" {
		t.Errorf("the caller that stayed got %q, %v; want eu-west-1", got.region, got.err)
	}
	if n := l.nodeCalls.Load(); n != 1 {
		t.Errorf("node lookups = %d, want 1 shared by both callers", n)
	}
}
