package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestClientUnderGetOnlyRBAC(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t, [3]string{"shop", "cart", roleCart}, [3]string{"shop", "bare", ""})
	s.DenyListWatch(true)
	clock := newClock()
	ctx, logs := logged(t)
	c := startClient(t, ctx, s, Options{NodeName: "node-1", FallbackTTL: 30 * time.Second, Clock: clock.Now})

	t.Run("the start detects it and says so once, naming the rule to add", func(t *testing.T) {
		if c.saStore != nil || c.nodeStore != nil {
			t.Errorf("informers started under get-only RBAC")
		}
		lines := logs.all()
		if len(lines) != 1 {
			t.Fatalf("logged %d lines, want 1: %q", len(lines), lines)
		}
		for _, frag := range []string{"may not list and watch serviceaccounts and nodes", "get only", "30s", listWatchRule} {
			if !strings.Contains(lines[0], frag) {
				t.Errorf("log line %q does not say %q", lines[0], frag)
			}
		}
		if n := s.Calls()["watch serviceaccounts"]; n != 0 {
			t.Errorf("%d watches of serviceaccounts after a 403 on list, want 0", n)
		}
	})

	t.Run("lookups work with one GET per ServiceAccount per TTL", func(t *testing.T) {
		s.ResetCalls()
		regions := NewRegions(c, "", "node-1")
		// 1000 Mounts over ten minutes, one every 600ms.
		for i := 0; i < 1000; i++ {
			clock.Set(t0.Add(time.Duration(i) * 600 * time.Millisecond))
			if got, err := c.RoleARN(ctx, "shop", "cart"); err != nil || got != roleCart {
				t.Fatalf("RoleARN = %q, %v", got, err)
			}
			if r, err := regions.Region(ctx, "", "shop", "p"); err != nil || r != "us-west-2" {
				t.Fatalf("Region = %q, %v", r, err)
			}
		}
		calls := s.Calls()
		if calls["get serviceaccounts"] != 20 || calls["get nodes"] != 1 || len(calls) != 2 {
			t.Errorf("calls = %v; want 20 ServiceAccount GETs (one per 30s) and 1 node GET", calls)
		}
		if len(logs.all()) != 1 {
			t.Errorf("lookups logged: %q", logs.all())
		}
	})

	t.Run("an annotation change applies within the TTL", func(t *testing.T) {
		if err := s.UpdateServiceAccount("shop", "cart", map[string]string{RoleARNAnnotation: roleNew}); err != nil {
			t.Fatal(err)
		}
		clock.Set(clock.Now().Add(30 * time.Second))
		if got, err := c.RoleARN(ctx, "shop", "cart"); err != nil || got != roleNew {
			t.Errorf("RoleARN a TTL after the change = %q, %v", got, err)
		}
	})

	t.Run("a missing annotation is never cached", func(t *testing.T) {
		if _, err := c.RoleARN(ctx, "shop", "bare"); failure.KindOf(err) != failure.FailedPrecondition {
			t.Fatalf("RoleARN of an unannotated ServiceAccount: %v", err)
		}
		if err := s.UpdateServiceAccount("shop", "bare", map[string]string{RoleARNAnnotation: roleCart}); err != nil {
			t.Fatal(err)
		}
		if got, err := c.RoleARN(ctx, "shop", "bare"); err != nil || got != roleCart {
			t.Errorf("RoleARN right after annotating = %q, %v", got, err)
		}
	})
}

func TestFallbackReusesAGETForTheDefaultTTL(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t, [3]string{"shop", "cart", roleCart})
	s.denyReviews()
	s.forbid("list", "serviceaccounts")
	s.forbid("list", "nodes")
	clock := newClock()
	ctx, logs := logged(t)
	c := startClient(t, ctx, s, Options{NodeName: "node-1", Clock: clock.Now})
	for i := 0; i < 100; i++ {
		if got, err := c.RoleARN(ctx, "shop", "cart"); err != nil || got != roleCart {
			t.Fatalf("RoleARN = %q, %v", got, err)
		}
	}
	clock.Set(t0.Add(defaultFallbackTTL))
	if _, err := c.RoleARN(ctx, "shop", "cart"); err != nil {
		t.Fatal(err)
	}
	if n := s.count("get", "serviceaccounts", ""); n != 2 {
		t.Errorf("GETs = %d over 101 lookups spanning one default TTL, want 2", n)
	}
	if n := s.count("watch", "serviceaccounts", ""); n != 0 || len(logs.all()) != 1 {
		t.Errorf("watches %d, log lines %q", n, logs.all())
	}
}

func TestDirectReadsOfAServiceAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		role      string // "" = no annotation
		exists    bool
		fail      *apierrors.StatusError
		want      string
		kind      failure.Kind
		fragments []string
	}{
		{name: "the role annotation of the ServiceAccount is returned", exists: true, role: roleCart, want: roleCart},
		{name: "a missing ServiceAccount is a precondition naming it",
			kind: failure.FailedPrecondition, fragments: []string{"ServiceAccount shop/cart not found"}},
		{name: "a ServiceAccount without the annotation says how to fix it", exists: true,
			kind:      failure.FailedPrecondition,
			fragments: []string{`ServiceAccount shop/cart has no eks.amazonaws.com/role-arn annotation; annotate it with the IAM role to assume, or set usePodIdentity: "true"`}},
		{name: "a ServiceAccount the daemon may not read points at RBAC",
			fail: apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, "cart", errors.New("no")),
			kind: failure.FailedPrecondition, fragments: []string{"ClusterRole", "serviceaccounts"}},
		{name: "an API server failure is unavailable",
			fail: apierrors.NewInternalError(errors.New("etcd down")),
			kind: failure.Unavailable, fragments: []string{"ServiceAccount shop/cart", "etcd down"}},
		{name: "an API server timeout is a timeout",
			fail: apierrors.NewTimeoutError("slow", 1),
			kind: failure.Timeout, fragments: []string{"ServiceAccount shop/cart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAPIServer(t)
			if tt.exists {
				s.AddServiceAccount("shop", "cart", map[string]string{RoleARNAnnotation: tt.role})
			}
			if tt.fail != nil {
				s.fail("get", "serviceaccounts", tt.fail)
			}
			got, err := direct(t, s).roleARN(context.Background(), "shop", "cart")
			if tt.fragments == nil {
				if err != nil || got != tt.want {
					t.Fatalf("roleARN = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			testkit.WantKind(t, err, tt.kind, tt.fragments...)
		})
	}
}

func TestDirectReadsOfNodesAndPods(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	s.AddNode("n-new", map[string]string{RegionLabel: "eu-west-1", DeprecatedRegionLabel: "us-east-1"})
	s.AddNode("n-old", map[string]string{DeprecatedRegionLabel: "us-east-2"})
	s.AddNode("n-none", nil)
	s.AddPod("shop", "cart-1", "n-new", "cart")
	s.AddPod("shop", "pending", "", "cart")
	d := direct(t, s)
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
			got, err := d.nodeRegion(ctx, tt.node)
			if err != nil || got != tt.want {
				t.Errorf("nodeRegion(%s) = %q, %v; want %q", tt.node, got, err, tt.want)
			}
		})
	}
	t.Run("a missing node is a precondition naming it", func(t *testing.T) {
		_, err := d.nodeRegion(ctx, "ghost")
		testkit.WantKind(t, err, failure.FailedPrecondition, "Node ghost not found")
	})
	t.Run("the pod's node name is read", func(t *testing.T) {
		got, err := d.podNodeName(ctx, "shop", "cart-1")
		if err != nil || got != "n-new" {
			t.Errorf("podNodeName = %q, %v", got, err)
		}
	})
	t.Run("an unscheduled pod is a precondition", func(t *testing.T) {
		_, err := d.podNodeName(ctx, "shop", "pending")
		testkit.WantKind(t, err, failure.FailedPrecondition, "shop/pending")
	})
	t.Run("a missing pod is a precondition naming it", func(t *testing.T) {
		_, err := d.podNodeName(ctx, "shop", "ghost")
		testkit.WantKind(t, err, failure.FailedPrecondition, "Pod shop/ghost not found")
	})
	t.Run("a pod the daemon may not read points at RBAC", func(t *testing.T) {
		s.forbid("get", "pods")
		_, err := d.podNodeName(ctx, "shop", "cart-1")
		testkit.WantKind(t, err, failure.FailedPrecondition, "Pod shop/cart-1", "get on nodes and pods", "get only")
	})
}

func TestClientRemembersAPodsNode(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	s.AddNode("node-1", map[string]string{RegionLabel: "eu-west-1"})
	s.AddPod("shop", "cart-1", "node-1", "cart")
	ctx, _ := logged(t)
	c := startClient(t, ctx, s, Options{})
	regions := NewRegions(c, "", "")
	for i := 0; i < 100; i++ {
		if r, err := regions.Region(ctx, "", "shop", "cart-1"); err != nil || r != "eu-west-1" {
			t.Fatalf("Region = %q, %v", r, err)
		}
	}
	if p, n := s.count("get", "pods", ""), s.count("get", "nodes", ""); p != 1 || n != 1 {
		t.Errorf("pod GETs %d, node GETs %d over 100 Mounts; want 1 and 1", p, n)
	}
	if _, err := c.podNodeName(ctx, "shop", "ghost"); failure.KindOf(err) != failure.FailedPrecondition {
		t.Errorf("a missing pod: %v", err)
	}
}

// TestAHungAPIServerIsNeverReportedAsAWS: a Kubernetes read that runs out
// of time says the Kubernetes API did not answer (failure.Describe would
// read the deadline as "timed out waiting for AWS").
func TestAHungAPIServerIsNeverReportedAsAWS(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release: // the detached shared reads outlive their callers
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) }) // runs first
	a, err := newAPI(&rest.Config{Host: hung.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{api: a, sas: newGetCache(0, time.Now), nodes: newGetCache(0, time.Now)}
	tests := []struct {
		name      string
		read      func(ctx context.Context) error
		fragments []string
	}{
		{"a direct read of a ServiceAccount", func(ctx context.Context) error {
			_, err := a.roleARN(ctx, "shop", "ghost")
			return err
		}, []string{"reading ServiceAccount shop/ghost from the Kubernetes API: the Kubernetes API server did not answer in time"}},
		{"a shared read of a ServiceAccount", func(ctx context.Context) error {
			_, err := c.RoleARN(ctx, "shop", "ghost")
			return err
		}, []string{"waiting for the Kubernetes API to answer for shop/ghost: the Kubernetes API server did not answer in time"}},
		{"the node-region lookup", func(ctx context.Context) error {
			_, err := NewRegions(c, "", "node-1").Region(ctx, "", "shop", "p1")
			return err
		}, []string{"waiting for the Kubernetes API to answer for Node node-1: the Kubernetes API server did not answer in time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" that runs out of time names the Kubernetes API, not AWS", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := tt.read(ctx)
			testkit.WantKind(t, err, failure.Timeout, tt.fragments...)
			if err != nil && strings.Contains(err.Error(), "AWS") {
				t.Errorf("the error blames AWS: %v", err)
			}
		})
	}
}
