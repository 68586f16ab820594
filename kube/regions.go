package kube

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// nodeSource is what region resolution reads: Client (informers and
// cached GETs), or the direct GETs of api.
type nodeSource interface {
	// nodeRegion returns the node's region label, "" when it has none.
	nodeRegion(ctx context.Context, nodeName string) (string, error)
	// podNodeName returns the node the pod is scheduled on.
	podNodeName(ctx context.Context, namespace, pod string) (string, error)
}

var (
	_ nodeSource = (*Client)(nil)
	_ nodeSource = (*api)(nil)
)

// Regions decides a Mount's primary region when its class names none (the
// server's RegionResolver): the daemon's AWS_REGION, else the region label
// of the daemon's node, or of the pod's node when the daemon does not know
// its own. It remembers each node's region label for the life of the
// process: a node's region does not change while the node exists. With
// NODE_NAME set (the chart sets it) a Mount whose class names no region
// costs no API call after the first; without it, each such Mount reads its
// pod for the node name (remembered per pod by Client). Safe for concurrent
// use.
type Regions struct {
	memo      *nodeRegions
	envRegion string
	nodeName  string
}

// NewRegions returns the Regions of a daemon whose AWS_REGION is envRegion
// and whose NODE_NAME is nodeName (either may be empty), reading nodes and
// pods through c.
func NewRegions(c *Client, envRegion, nodeName string) *Regions {
	return newRegions(c, envRegion, nodeName)
}

func newRegions(src nodeSource, envRegion, nodeName string) *Regions {
	return &Regions{memo: &nodeRegions{nodeSource: src, regions: map[string]string{}}, envRegion: envRegion, nodeName: nodeName}
}

// Region returns the primary region for a Mount of pod namespace/pod whose
// class names classRegion (possibly empty).
func (r *Regions) Region(ctx context.Context, classRegion, namespace, pod string) (string, error) {
	return resolveRegion(ctx, r.memo, classRegion, r.envRegion, r.nodeName, namespace, pod)
}

// resolveRegion decides the primary region: the class's region, else the
// daemon's AWS_REGION (envRegion, read by the caller), else the region label
// of the daemon's node (nodeName, from NODE_NAME), or of the pod's node when
// nodeName is empty. A node without a region label is a FailedPrecondition.
func resolveRegion(ctx context.Context, src nodeSource, classRegion, envRegion, nodeName, namespace, pod string) (string, error) {
	if classRegion != "" {
		return classRegion, nil
	}
	if envRegion != "" {
		return envRegion, nil
	}
	if nodeName == "" {
		if pod == "" {
			return "", failure.New(failure.FailedPrecondition,
				"no region: the SecretProviderClass sets none, the daemon has no AWS_REGION or NODE_NAME, and the request names no pod; set region in the SecretProviderClass")
		}
		n, err := src.podNodeName(ctx, namespace, pod)
		if err != nil {
			return "", err
		}
		nodeName = n
	}
	region, err := src.nodeRegion(ctx, nodeName)
	if err != nil {
		return "", err
	}
	if region == "" {
		return "", failure.New(failure.FailedPrecondition,
			"no region: the SecretProviderClass sets none, the daemon has no AWS_REGION, and node %s has no %s label; set region in the SecretProviderClass",
			nodeName, RegionLabel)
	}
	return region, nil
}

// nodeRegions is a nodeSource whose nodeRegion answers are remembered once
// found; concurrent first lookups of one node share one API call. A node
// without the label is asked again next time (labels may be added late).
//
// The shared call runs detached from every caller (bounded by getBudget):
// a caller whose Mount is cancelled or times out stops waiting, and the
// others joined on the call still get its answer.
type nodeRegions struct {
	nodeSource
	group   singleflight.Group
	mu      sync.Mutex
	regions map[string]string
}

func (n *nodeRegions) nodeRegion(ctx context.Context, nodeName string) (string, error) {
	n.mu.Lock()
	r, ok := n.regions[nodeName]
	n.mu.Unlock()
	if ok {
		return r, nil
	}
	ch := n.group.DoChan(nodeName, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), getBudget)
		defer cancel()
		r, err := n.nodeSource.nodeRegion(lctx, nodeName)
		if err == nil && r != "" {
			n.mu.Lock()
			n.regions[nodeName] = r
			n.mu.Unlock()
		}
		return r, err
	})
	return await(ctx, ch, "Node "+nodeName)
}
