package kube

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// countingSource is a nodeSource over fixed maps that counts calls.
type countingSource struct {
	regions  map[string]string // node -> region
	podNodes map[string]string // ns/pod -> node

	nodeCalls, podCalls atomic.Int32
}

func (l *countingSource) nodeRegion(_ context.Context, n string) (string, error) {
	l.nodeCalls.Add(1)
	r, ok := l.regions[n]
	if !ok {
		return "", failure.New(failure.FailedPrecondition, "Node %s not found", n)
	}
	return r, nil
}

func (l *countingSource) podNodeName(_ context.Context, ns, p string) (string, error) {
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
			l := &countingSource{
				regions:  map[string]string{"n1": "eu-west-1", "n2": "eu-central-1", "bare": ""},
				podNodes: map[string]string{"shop/p1": "n1", "shop/p2": "n2"},
			}
			got, err := resolveRegion(context.Background(), l, tt.class, tt.env, tt.nodeName, "shop", tt.pod)
			if tt.fragments != nil {
				testkit.WantKind(t, err, tt.kind, tt.fragments...)
			} else if err != nil || got != tt.want {
				t.Errorf("resolveRegion = %q, %v; want %q", got, err, tt.want)
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
	s := newAPIServer(t)
	s.AddNode("n1", map[string]string{RegionLabel: "eu-west-1"})
	r := newRegions(direct(t, s), "", "n1")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			if got, err := r.Region(context.Background(), "", "shop", "p"); err != nil || got != "eu-west-1" {
				t.Errorf("Region = %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	for i := 0; i < 10; i++ {
		if got, err := r.Region(context.Background(), "", "shop", "p"); err != nil || got != "eu-west-1" {
			t.Fatalf("Region = %q, %v", got, err)
		}
	}
	if n := s.count("get", "nodes", ""); n != 1 {
		t.Errorf("the node was read %d times, want once", n)
	}
}

func TestRegionsAsksAgainForANodeWithoutTheLabel(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	s.AddNode("n1", nil)
	r := newRegions(direct(t, s), "", "n1")
	ctx := context.Background()
	if _, err := r.Region(ctx, "", "shop", "p"); failure.KindOf(err) != failure.FailedPrecondition {
		t.Fatalf("Region on an unlabelled node: %v", err)
	}
	s.AddNode("n1", map[string]string{RegionLabel: "eu-west-1"})
	got, err := r.Region(ctx, "", "shop", "p")
	if err != nil || got != "eu-west-1" {
		t.Fatalf("Region after labelling = %q, %v", got, err)
	}
}

func TestRegionsUsesTheDaemonsRegionWithoutAnyLookup(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	r := newRegions(direct(t, s), "us-west-2", "n1")
	got, err := r.Region(context.Background(), "", "shop", "p")
	if err != nil || got != "us-west-2" {
		t.Fatalf("Region = %q, %v", got, err)
	}
	if calls := s.Calls(); len(calls) != 0 {
		t.Errorf("Kubernetes API calls: %v", calls)
	}
}

// gatedSource answers nodeRegion only once gate is closed, or fails with
// its context's error when that context ends first.
type gatedSource struct {
	countingSource
	gate    chan struct{}
	entered chan struct{}
}

func (l *gatedSource) nodeRegion(ctx context.Context, n string) (string, error) {
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
	l := &gatedSource{countingSource: countingSource{regions: map[string]string{"n1": "eu-west-1"}},
		gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	r := newRegions(l, "", "n1")

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
		testkit.WantKind(t, err, failure.Timeout, "Node n1")
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
