package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

const roleNew = "arn:aws:iam::123456789012:role/cart-v2"

// logLines records what the lookup logs through the context's logger.
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

// startFakekube serves a fake API server with these ServiceAccounts (role
// "" = no annotation) and node-1 in us-west-2, and returns a real client
// for it.
func startFakekube(t *testing.T, sas ...[3]string) (*fakekube.Server, kubernetes.Interface) {
	t.Helper()
	s := fakekube.New()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	for _, sa := range sas {
		var ann map[string]string
		if sa[2] != "" {
			ann = map[string]string{RoleARNAnnotation: sa[2]}
		}
		s.AddServiceAccount(sa[0], sa[1], ann)
	}
	s.AddNode("node-1", map[string]string{RegionLabel: "us-west-2"})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: s.URL(), QPS: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return s, cs
}

func mustInformerLookup(t *testing.T, ctx context.Context, client kubernetes.Interface, opts InformerOptions) *informerLookup {
	t.Helper()
	l, err := NewInformerLookup(ctx, client, opts)
	if err != nil {
		t.Fatalf("NewInformerLookup: %v", err)
	}
	return l.(*informerLookup)
}

// apiCalls sums fakekube's calls whose key starts with one of prefixes
// (all calls when none is given).
func apiCalls(s *fakekube.Server, prefixes ...string) int {
	n := 0
	for k, v := range s.Calls() {
		if len(prefixes) == 0 {
			n += v
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				n += v
				break
			}
		}
	}
	return n
}

// allowReviews makes the fake clientset answer every SelfSubjectAccessReview
// with allowed.
func allowReviews(c *fake.Clientset) {
	c.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = true
		return true, r, nil
	})
}

// forbid makes the fake clientset answer verb on resource with 403.
func forbid(c *fake.Clientset, verb, resource string) {
	err := apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New("get only"))
	if verb == "watch" {
		c.PrependWatchReactor(resource, func(k8stesting.Action) (bool, watch.Interface, error) { return true, nil, err })
		return
	}
	c.PrependReactor(verb, resource, func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, err })
}

// stallWatch makes every watch of resource open and never deliver an event:
// an informer that lags forever behind the API server.
func stallWatch(c *fake.Clientset, resource string) {
	c.PrependWatchReactor(resource, func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil
	})
}

func countVerb(c *fake.Clientset, verb, resource string) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			n++
		}
	}
	return n
}

func TestInformerLookupMakesNoAPICallPerLookup(t *testing.T) {
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
			s, cs := startFakekube(t, [3]string{"shop", "cart", roleCart}, [3]string{"blog", "web", roleNew})
			s.AddPod("shop", "cart-1", "node-1", "cart")
			ctx, logs := logged(t)
			l := mustInformerLookup(t, ctx, cs, InformerOptions{NodeName: tt.nodeName})
			if l.saLister == nil || (l.nodeLister != nil) != (tt.nodeName != "") {
				t.Fatalf("informers: ServiceAccounts %v, node %v", l.saLister != nil, l.nodeLister != nil)
			}
			if lines := logs.all(); len(lines) != 1 || !strings.Contains(lines[0], "through informers") {
				t.Errorf("start log = %q, want one line saying informers are used", lines)
			}
			regions := NewRegions(l, "", tt.nodeName)
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
				if got, err := l.RoleARN(ctx, ns, sa); err != nil || got != want {
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

func TestInformerLookupMountsCostNoKubernetesCall(t *testing.T) {
	t.Parallel()
	s, cs := startFakekube(t, [3]string{"shop", "cart", roleCart})
	ctx, _ := logged(t)
	l := mustInformerLookup(t, ctx, cs, InformerOptions{NodeName: "node-1"})
	f := newFixture(t)
	creds := NewCredentials(l, NewIRSA(f.sts.forRegion, IRSAOptions{}), nil, f.clock.Now)
	regions := NewRegions(l, "", "node-1")
	s.ResetCalls()
	const mounts = 1000
	for i := 0; i < mounts; i++ {
		region, err := regions.Region(ctx, "", "shop", fmt.Sprintf("cart-%d", i%50))
		if err != nil {
			t.Fatal(err)
		}
		req := request(t, "shop", "cart", fmt.Sprintf("cart-%d", i%50))
		req.Region = region
		if _, _, err := creds.Resolve(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if n := apiCalls(s); n != 0 {
		t.Errorf("%d Mounts made %d Kubernetes API calls (%v), want 0", mounts, n, s.Calls())
	}
	if n := f.sts.count(); n != 1 {
		t.Errorf("%d Mounts made %d STS calls, want 1", mounts, n)
	}
}

func TestInformerLookupSeesAnAnnotationChangeRightAway(t *testing.T) {
	t.Parallel()
	type cluster struct {
		client kubernetes.Interface
		update func(role string)
		gets   func() int
	}
	tests := []struct {
		name  string
		start func(t *testing.T) cluster
	}{
		{"with client-go's fake clientset", func(t *testing.T) cluster {
			c := fake.NewClientset(serviceAccount("shop", "cart", roleCart), node("node-1", map[string]string{RegionLabel: "us-west-2"}))
			return cluster{client: c,
				update: func(role string) {
					if _, err := c.CoreV1().ServiceAccounts("shop").Update(context.Background(), serviceAccount("shop", "cart", role), metav1.UpdateOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				gets: func() int { return gets(c, "serviceaccounts") }}
		}},
		{"with the fakekube HTTP API server", func(t *testing.T) cluster {
			s, cs := startFakekube(t, [3]string{"shop", "cart", roleCart})
			return cluster{client: cs,
				update: func(role string) {
					if err := s.UpdateServiceAccount("shop", "cart", map[string]string{RoleARNAnnotation: role}); err != nil {
						t.Fatal(err)
					}
				},
				gets: func() int { return s.Calls()["get serviceaccounts"] }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.start(t)
			ctx, _ := logged(t)
			l := mustInformerLookup(t, ctx, c.client, InformerOptions{NodeName: "node-1"})
			f := newFixture(t)
			creds := NewCredentials(l, NewIRSA(f.sts.forRegion, IRSAOptions{}), nil, f.clock.Now)
			req := request(t, "shop", "cart", "cart-1")
			idOld, pOld, err := creds.Resolve(ctx, req)
			if err != nil || idOld.RoleARN != roleCart {
				t.Fatalf("Resolve = %+v, %v", idOld, err)
			}
			credsOld, _ := pOld.Retrieve(ctx)

			c.update(roleNew)
			eventually(t, "the new role annotation to be seen", func() bool {
				got, err := l.RoleARN(ctx, "shop", "cart")
				return err == nil && got == roleNew
			})
			if n := c.gets(); n != 0 {
				t.Errorf("the change took %d GETs, want it from the watch alone", n)
			}
			idNew, pNew, err := creds.Resolve(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			credsNew, _ := pNew.Retrieve(ctx)
			if idNew.RoleARN != roleNew || idNew.Key() == idOld.Key() {
				t.Errorf("after the change: role %s, key %q (before %q)", idNew.RoleARN, idNew.Key(), idOld.Key())
			}
			if credsNew.AccessKeyID == credsOld.AccessKeyID {
				t.Errorf("the old role's credentials %s were served after the change", credsOld.AccessKeyID)
			}
			if n, last := f.sts.count(), f.sts.last(); n != 2 || last.roleARN != roleNew {
				t.Errorf("STS calls = %d, last for %s; want 2, the last for the new role", n, last.roleARN)
			}
		})
	}
}

func TestInformerLookupAsksTheAPIServerWhenTheCacheLags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(c *fake.Clientset)
		sa     string
		want   string
		kind   failure.Kind
		frag   string
		gets   int
	}{
		{name: "a ServiceAccount created after the last event is found with one GET",
			change: func(c *fake.Clientset) { create(c, serviceAccount("shop", "new", roleNew)) },
			sa:     "new", want: roleNew, gets: 1},
		{name: "an annotation added after the last event is found with one GET, never reported missing",
			change: func(c *fake.Clientset) { update(c, serviceAccount("shop", "bare", roleNew)) },
			sa:     "bare", want: roleNew, gets: 1},
		{name: "a ServiceAccount that really has no annotation is reported after one GET",
			sa: "bare", kind: failure.FailedPrecondition, frag: "ServiceAccount shop/bare has no eks.amazonaws.com/role-arn annotation", gets: 1},
		{name: "a ServiceAccount that does not exist is reported after one GET",
			sa: "ghost", kind: failure.FailedPrecondition, frag: "ServiceAccount shop/ghost not found", gets: 1},
		{name: "a ServiceAccount in the cache with a role costs no GET",
			sa: "cart", want: roleCart, gets: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientset(serviceAccount("shop", "cart", roleCart), serviceAccount("shop", "bare", ""))
			stallWatch(c, "serviceaccounts")
			ctx, _ := logged(t)
			l := mustInformerLookup(t, ctx, c, InformerOptions{})
			if tt.change != nil {
				tt.change(c)
			}
			before := gets(c, "serviceaccounts")
			got, err := l.RoleARN(ctx, "shop", tt.sa)
			if tt.frag != "" {
				wantKind(t, err, tt.kind, tt.frag)
			} else if err != nil || got != tt.want {
				t.Errorf("RoleARN = %q, %v; want %q", got, err, tt.want)
			}
			if n := gets(c, "serviceaccounts") - before; n != tt.gets {
				t.Errorf("GETs = %d, want %d", n, tt.gets)
			}
		})
	}
}

func TestInformerLookupSharesOneGETAmongConcurrentLookups(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset()
	stallWatch(c, "serviceaccounts")
	ctx, _ := logged(t)
	l := mustInformerLookup(t, ctx, c, InformerOptions{})
	create(c, serviceAccount("shop", "new", roleNew))
	gate := make(chan struct{})
	var served atomic.Int32
	c.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-gate
		served.Add(1)
		return false, nil, nil // on to the tracker
	})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := l.RoleARN(ctx, "shop", "new"); err != nil || got != roleNew {
				t.Errorf("RoleARN = %q, %v", got, err)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond) // let the lookups meet at the GET
	close(gate)
	wg.Wait()
	if n := served.Load(); n < 1 || n > 2 {
		t.Errorf("50 concurrent lookups made %d GETs, want 1 (2 at most if one arrived late)", n)
	}
}

func TestInformerLookupKeepsOnlyWhatItReads(t *testing.T) {
	t.Parallel()
	sa := serviceAccount("shop", "cart", roleCart)
	sa.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = strings.Repeat("x", 4096)
	sa.Annotations["eks.amazonaws.com/token-expiration"] = "86400"
	sa.Labels = map[string]string{"app": "cart"}
	sa.Secrets = []corev1.ObjectReference{{Name: "cart-token"}}
	sa.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	n := node("node-1", map[string]string{RegionLabel: "eu-west-1"})
	n.Status.Images = []corev1.ContainerImage{{Names: []string{"registry/app:1"}, SizeBytes: 1 << 20}}
	c := fake.NewClientset(sa, n)
	ctx, _ := logged(t)
	l := mustInformerLookup(t, ctx, c, InformerOptions{NodeName: "node-1"})

	got, err := l.saLister.ServiceAccounts("shop").Get("cart")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{RoleARNAnnotation: roleCart, "eks.amazonaws.com/token-expiration": "86400"}
	if len(got.Annotations) != len(want) || got.Annotations[RoleARNAnnotation] != roleCart ||
		got.Labels != nil || got.Secrets != nil || got.ManagedFields != nil {
		t.Errorf("cached ServiceAccount = %+v, want name, namespace and the eks.amazonaws.com annotations only", got)
	}
	gotNode, err := l.nodeLister.Get("node-1")
	if err != nil {
		t.Fatal(err)
	}
	if gotNode.Labels[RegionLabel] != "eu-west-1" || len(gotNode.Status.Images) != 0 {
		t.Errorf("cached Node = %+v, want name and labels only", gotNode)
	}

	// The fake clientset ignores field selectors; fakekube applies them.
	s, cs := startFakekube(t)
	s.AddNode("node-2", map[string]string{RegionLabel: "eu-west-1"})
	l = mustInformerLookup(t, ctx, cs, InformerOptions{NodeName: "node-1"})
	if nodes, _ := l.nodeLister.List(labels.Everything()); len(nodes) != 1 || nodes[0].Name != "node-1" {
		t.Errorf("the node informer holds %d nodes, want only node-1", len(nodes))
	}
}

func TestInformerLookupDetectsWhatRBACAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		react     func(c *fake.Clientset)
		informers [2]bool // ServiceAccounts, node
		denied    string  // what the log line names
		trialList bool
	}{
		{name: "an allowed SelfSubjectAccessReview starts the informers without a trial",
			react: allowReviews, informers: [2]bool{true, true}},
		{name: "a denied review with a list and watch that work starts the informers",
			react: func(*fake.Clientset) {}, informers: [2]bool{true, true}, trialList: true},
		{name: "a refused review and a 403 on list falls back to GETs for both",
			react: func(c *fake.Clientset) {
				c.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "selfsubjectaccessreviews"}, "")
				})
				forbid(c, "list", "serviceaccounts")
				forbid(c, "list", "nodes")
			},
			denied: "serviceaccounts and nodes", trialList: true},
		{name: "a 403 on watch alone falls back too",
			react:  func(c *fake.Clientset) { forbid(c, "watch", "serviceaccounts") },
			denied: "serviceaccounts", informers: [2]bool{false, true}, trialList: true},
		{name: "nodes may be denied while ServiceAccounts are watched",
			react:  func(c *fake.Clientset) { forbid(c, "list", "nodes") },
			denied: "nodes", informers: [2]bool{true, false}, trialList: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientset(serviceAccount("shop", "cart", roleCart), node("node-1", map[string]string{RegionLabel: "eu-west-1"}))
			tt.react(c)
			ctx, logs := logged(t)
			l := mustInformerLookup(t, ctx, c, InformerOptions{NodeName: "node-1"})
			if got := [2]bool{l.saLister != nil, l.nodeLister != nil}; got != tt.informers {
				t.Errorf("informers (ServiceAccounts, node) = %v, want %v", got, tt.informers)
			}
			lines := logs.all()
			if len(lines) != 1 {
				t.Fatalf("start logged %d lines, want 1: %q", len(lines), lines)
			}
			if tt.denied != "" {
				for _, frag := range []string{"may not list and watch " + tt.denied, "get only", listWatchRule} {
					if !strings.Contains(lines[0], frag) {
						t.Errorf("log line %q does not say %q", lines[0], frag)
					}
				}
			}
			trial := false
			for _, a := range c.Actions() {
				if l, ok := a.(interface{ GetListOptions() metav1.ListOptions }); ok && a.GetVerb() == "list" && l.GetListOptions().Limit == 1 {
					trial = true
				}
			}
			if trial != tt.trialList {
				t.Errorf("trial list made = %v, want %v", trial, tt.trialList)
			}
			// Whatever the mode, lookups answer.
			if got, err := l.RoleARN(ctx, "shop", "cart"); err != nil || got != roleCart {
				t.Errorf("RoleARN = %q, %v", got, err)
			}
			if got, err := l.NodeRegion(ctx, "node-1"); err != nil || got != "eu-west-1" {
				t.Errorf("NodeRegion = %q, %v", got, err)
			}
		})
	}
}

func TestInformerLookupStartFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		react func(c *fake.Clientset)
		kind  failure.Kind
		frag  string
	}{
		{name: "an API server that fails the trial list stops the start",
			react: func(c *fake.Clientset) {
				c.PrependReactor("list", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewInternalError(errors.New("etcd down"))
				})
			},
			kind: failure.Unavailable, frag: "checking whether the daemon may list serviceaccounts"},
		{name: "informers that cannot sync stop the start within SyncTimeout and say why",
			react: func(c *fake.Clientset) {
				allowReviews(c)
				c.PrependReactor("list", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewInternalError(errors.New("etcd down"))
				})
			},
			kind: failure.Unavailable, frag: "did not sync within 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientset()
			tt.react(c)
			ctx, _ := logged(t)
			began := time.Now()
			l, err := NewInformerLookup(ctx, c, InformerOptions{SyncTimeout: 300 * time.Millisecond})
			if l != nil {
				t.Errorf("a failed start returned a Lookup")
			}
			wantKind(t, err, tt.kind, tt.frag)
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("the start took %v", took)
			}
		})
	}
	t.Run("negative durations are refused", func(t *testing.T) {
		t.Parallel()
		if _, err := NewInformerLookup(t.Context(), fake.NewClientset(), InformerOptions{FallbackTTL: -time.Second}); err == nil {
			t.Error("no error")
		}
	})
}

func TestInformerLookupUnderGetOnlyRBAC(t *testing.T) {
	t.Parallel()
	s, cs := startFakekube(t, [3]string{"shop", "cart", roleCart}, [3]string{"shop", "bare", ""})
	s.DenyListWatch(true)
	clock := newClock()
	ctx, logs := logged(t)
	l := mustInformerLookup(t, ctx, cs, InformerOptions{NodeName: "node-1", FallbackTTL: 30 * time.Second, Clock: clock.Now})

	t.Run("the start detects it and says so once, naming the rule to add", func(t *testing.T) {
		if l.saLister != nil || l.nodeLister != nil {
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
		regions := NewRegions(l, "", "node-1")
		// 1000 Mounts over ten minutes, one every 600ms.
		for i := 0; i < 1000; i++ {
			clock.Set(t0.Add(time.Duration(i) * 600 * time.Millisecond))
			if got, err := l.RoleARN(ctx, "shop", "cart"); err != nil || got != roleCart {
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
		if got, err := l.RoleARN(ctx, "shop", "cart"); err != nil || got != roleNew {
			t.Errorf("RoleARN a TTL after the change = %q, %v", got, err)
		}
	})

	t.Run("a missing annotation is never cached", func(t *testing.T) {
		if _, err := l.RoleARN(ctx, "shop", "bare"); failure.KindOf(err) != failure.FailedPrecondition {
			t.Fatalf("RoleARN of an unannotated ServiceAccount: %v", err)
		}
		if err := s.UpdateServiceAccount("shop", "bare", map[string]string{RoleARNAnnotation: roleCart}); err != nil {
			t.Fatal(err)
		}
		if got, err := l.RoleARN(ctx, "shop", "bare"); err != nil || got != roleCart {
			t.Errorf("RoleARN right after annotating = %q, %v", got, err)
		}
	})
}

func TestInformerLookupFallbackWithTheFakeClientset(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset(serviceAccount("shop", "cart", roleCart), node("node-1", map[string]string{RegionLabel: "eu-west-1"}))
	forbid(c, "list", "serviceaccounts")
	forbid(c, "list", "nodes")
	clock := newClock()
	ctx, logs := logged(t)
	l := mustInformerLookup(t, ctx, c, InformerOptions{NodeName: "node-1", Clock: clock.Now})
	for i := 0; i < 100; i++ {
		if got, err := l.RoleARN(ctx, "shop", "cart"); err != nil || got != roleCart {
			t.Fatalf("RoleARN = %q, %v", got, err)
		}
	}
	clock.Set(t0.Add(defaultFallbackTTL))
	if _, err := l.RoleARN(ctx, "shop", "cart"); err != nil {
		t.Fatal(err)
	}
	if n := gets(c, "serviceaccounts"); n != 2 {
		t.Errorf("GETs = %d over 101 lookups spanning one default TTL, want 2", n)
	}
	if countVerb(c, "watch", "serviceaccounts") != 0 || len(logs.all()) != 1 {
		t.Errorf("watches %d, log lines %q", countVerb(c, "watch", "serviceaccounts"), logs.all())
	}
}

func TestInformerLookupRemembersAPodsNode(t *testing.T) {
	t.Parallel()
	c := fake.NewClientset(pod("shop", "cart-1", "node-1"), node("node-1", map[string]string{RegionLabel: "eu-west-1"}))
	ctx, _ := logged(t)
	l := mustInformerLookup(t, ctx, c, InformerOptions{})
	regions := NewRegions(l, "", "")
	for i := 0; i < 100; i++ {
		if r, err := regions.Region(ctx, "", "shop", "cart-1"); err != nil || r != "eu-west-1" {
			t.Fatalf("Region = %q, %v", r, err)
		}
	}
	if p, n := gets(c, "pods"), gets(c, "nodes"); p != 1 || n != 1 {
		t.Errorf("pod GETs %d, node GETs %d over 100 Mounts; want 1 and 1", p, n)
	}
	if _, err := l.PodNodeName(ctx, "shop", "ghost"); failure.KindOf(err) != failure.FailedPrecondition {
		t.Errorf("a missing pod: %v", err)
	}
}

func create(c *fake.Clientset, sa *corev1.ServiceAccount) {
	if _, err := c.CoreV1().ServiceAccounts(sa.Namespace).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		panic(err)
	}
}

func update(c *fake.Clientset, sa *corev1.ServiceAccount) {
	if _, err := c.CoreV1().ServiceAccounts(sa.Namespace).Update(context.Background(), sa, metav1.UpdateOptions{}); err != nil {
		panic(err)
	}
}
