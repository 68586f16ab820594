package kube

import (
	"context"
	"errors"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

const (
	// getCacheSize bounds each cache of direct reads. A node runs a few
	// hundred pods at most, so this many ServiceAccounts or pods is plenty.
	getCacheSize = 4096
	// getBudget bounds one direct GET, however many Mounts wait for it.
	getBudget = 15 * time.Second
)

const (
	serviceAccountRBACHint = "the daemon's ClusterRole must allow get on serviceaccounts"
	nodeAndPodRBACHint     = "the daemon's ClusterRole must allow get on nodes and pods"
)

// errNoAnswer guards a singleflight result of the wrong type (a bug).
var errNoAnswer = errors.New("kube: no answer from a shared read")

// roleARN GETs the ServiceAccount's metadata and returns its role
// annotation.
func (a *api) roleARN(ctx context.Context, namespace, serviceAccount string) (string, error) {
	sa, err := a.meta.Resource(serviceAccounts).Namespace(namespace).Get(ctx, serviceAccount, metav1.GetOptions{})
	if err != nil {
		return "", kubeError(err, "ServiceAccount", namespace+"/"+serviceAccount, serviceAccountRBACHint)
	}
	arn := sa.Annotations[RoleARNAnnotation]
	if arn == "" {
		return "", failure.New(failure.FailedPrecondition,
			"ServiceAccount %s/%s has no %s annotation; annotate it with the IAM role to assume, or set usePodIdentity: \"true\"",
			namespace, serviceAccount, RoleARNAnnotation)
	}
	return arn, nil
}

// nodeRegion GETs the Node's metadata and returns its region label ("" when
// it has none).
func (a *api) nodeRegion(ctx context.Context, nodeName string) (string, error) {
	node, err := a.meta.Resource(nodes).Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return "", kubeError(err, "Node", nodeName, nodeAndPodRBACHint)
	}
	return regionOf(node.Labels), nil
}

// podSpec is the one field of a Pod the daemon reads.
type podSpec struct {
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
}

// podNodeName GETs the Pod and returns the node it is scheduled on.
func (a *api) podNodeName(ctx context.Context, namespace, pod string) (string, error) {
	var p podSpec
	if err := a.do(ctx, a.rest.Get().AbsPath("/api/v1/namespaces", namespace, "pods", pod), &p); err != nil {
		return "", kubeError(err, "Pod", namespace+"/"+pod, nodeAndPodRBACHint)
	}
	if p.Spec.NodeName == "" {
		return "", failure.New(failure.FailedPrecondition, "Pod %s/%s is not scheduled on a node yet", namespace, pod)
	}
	return p.Spec.NodeName, nil
}

// kubeError classifies an API server error for the object kind/name.
func kubeError(err error, kind, name, rbacHint string) error {
	switch {
	case apierrors.IsNotFound(err):
		return failure.New(failure.FailedPrecondition, "%s %s not found", kind, name)
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return failure.Wrap(failure.FailedPrecondition, err, "reading %s %s: %s", kind, name, rbacHint)
	case errors.Is(err, context.DeadlineExceeded) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		return failure.New(failure.Timeout, "reading %s %s from the Kubernetes API: %s", kind, name, kubeCause(err))
	default:
		return failure.Wrap(failure.Unavailable, err, "reading %s %s from the Kubernetes API", kind, name)
	}
}

// kubeCause says why a read of the Kubernetes API failed. It is quoted
// into messages rather than wrapped, because failure.Describe reads any
// deadline in a chain as AWS's.
func kubeCause(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the Kubernetes API server did not answer in time"
	case errors.Is(err, context.Canceled):
		return "the Mount was cancelled"
	}
	return err.Error()
}

// getCache shares direct reads of one Kubernetes object: concurrent reads
// of a key make one API call, and a non-empty answer is reused for ttl (0 =
// until evicted). Errors and empty answers are never reused, so a fix (an
// annotation added, a label set) is seen by the next Mount. Bounded (least
// recently used go first); safe for concurrent use.
type getCache struct {
	ttl     time.Duration
	now     func() time.Time
	entries *lru.Cache[string, getEntry]
	group   singleflight.Group
}

type getEntry struct {
	value string
	at    time.Time
}

func newGetCache(ttl time.Duration, clock func() time.Time) *getCache {
	entries, err := lru.New[string, getEntry](getCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &getCache{ttl: ttl, now: clock, entries: entries}
}

// get returns key's value: remembered (when keep and still fresh), else read
// by fetch, once for all concurrent callers, and remembered when keep. A
// caller whose ctx ends stops waiting; the read goes on (bounded by
// getBudget) for the others.
func (c *getCache) get(ctx context.Context, key string, keep bool, fetch func(context.Context) (string, error)) (string, error) {
	if keep {
		if e, ok := c.entries.Get(key); ok && (c.ttl == 0 || c.now().Sub(e.at) < c.ttl) {
			return e.value, nil
		}
	}
	ch := c.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), getBudget)
		defer cancel()
		at := c.now()
		v, err := fetch(fctx)
		if err == nil && v != "" && keep {
			c.entries.Add(key, getEntry{value: v, at: at})
		}
		return v, err
	})
	return await(ctx, ch, key)
}

// await returns a shared read's answer, or a Timeout naming what it was
// for when ctx ends first (the read goes on for the others).
func await(ctx context.Context, ch <-chan singleflight.Result, what string) (string, error) {
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		v, ok := r.Val.(string)
		if !ok {
			return "", errNoAnswer
		}
		return v, nil
	case <-ctx.Done():
		return "", failure.New(failure.Timeout, "waiting for the Kubernetes API to answer for %s: %s", what, kubeCause(ctx.Err()))
	}
}
