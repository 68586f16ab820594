package auth

import (
	"context"
	"errors"
	"regexp"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"golang.org/x/sync/singleflight"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Kubernetes names the daemon reads.
const (
	RoleARNAnnotation     = "eks.amazonaws.com/role-arn"
	RegionLabel           = "topology.kubernetes.io/region"
	DeprecatedRegionLabel = "failure-domain.beta.kubernetes.io/region"
)

const (
	serviceAccountRBACHint = "the daemon's ClusterRole must allow get on serviceaccounts"
	nodeAndPodRBACHint     = "the daemon's ClusterRole must allow get on nodes and pods"
)

// Lookup reads what the daemon needs from the Kubernetes API. Keep it
// narrow: NewInformerLookup (the daemon's) answers from informers,
// NewDirectLookup reads on every call.
type Lookup interface {
	// RoleARN returns the ServiceAccount's eks.amazonaws.com/role-arn
	// annotation; a missing ServiceAccount or annotation is a
	// FailedPrecondition that says what to fix.
	RoleARN(ctx context.Context, namespace, serviceAccount string) (string, error)
	// NodeRegion returns the node's region label, "" when it has none.
	NodeRegion(ctx context.Context, nodeName string) (string, error)
	// PodNodeName returns the node the pod is scheduled on.
	PodNodeName(ctx context.Context, namespace, pod string) (string, error)
}

// NewDirectLookup returns a Lookup that GETs each object from the API
// server on every call.
func NewDirectLookup(client kubernetes.Interface) Lookup {
	return directLookup{client: client}
}

type directLookup struct {
	client kubernetes.Interface
}

var _ Lookup = directLookup{}

func (l directLookup) RoleARN(ctx context.Context, namespace, serviceAccount string) (string, error) {
	sa, err := l.client.CoreV1().ServiceAccounts(namespace).Get(ctx, serviceAccount, metav1.GetOptions{})
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

func (l directLookup) NodeRegion(ctx context.Context, nodeName string) (string, error) {
	node, err := l.client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return "", kubeError(err, "Node", nodeName, nodeAndPodRBACHint)
	}
	return regionOf(node), nil
}

func (l directLookup) PodNodeName(ctx context.Context, namespace, pod string) (string, error) {
	p, err := l.client.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
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

// roleARN is the shape of an IAM role ARN; anything else in the annotation
// is reported before STS is asked.
var roleARN = regexp.MustCompile(`^arn:aws[a-z0-9-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

func checkRoleARN(arn, namespace, serviceAccount string) error {
	if !roleARN.MatchString(arn) {
		return failure.New(failure.FailedPrecondition,
			"ServiceAccount %s/%s: annotation %s %q is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)",
			namespace, serviceAccount, RoleARNAnnotation, arn)
	}
	return nil
}

// ResolveRegion decides the primary region: the class's region, else the
// daemon's AWS_REGION (envRegion, read by the caller), else the region label
// of the daemon's node (nodeName, from NODE_NAME), or of the pod's node when
// nodeName is empty. A node without a region label is a FailedPrecondition.
func ResolveRegion(ctx context.Context, lookup Lookup, classRegion, envRegion, nodeName, namespace, pod string) (string, error) {
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
		n, err := lookup.PodNodeName(ctx, namespace, pod)
		if err != nil {
			return "", err
		}
		nodeName = n
	}
	region, err := lookup.NodeRegion(ctx, nodeName)
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

// Regions resolves regions as ResolveRegion does, remembering each node's
// region label for the life of the process: a node's region does not change
// while the node exists. With NODE_NAME set (the chart sets it) a Mount
// whose class names no region costs no API call after the first; without
// it, each such Mount reads its pod for the node name. Safe for concurrent
// use.
type Regions struct {
	memo      *nodeRegions
	envRegion string
	nodeName  string
}

// NewRegions returns a Regions for a daemon whose AWS_REGION is envRegion
// and whose NODE_NAME is nodeName (either may be empty).
func NewRegions(lookup Lookup, envRegion, nodeName string) *Regions {
	return &Regions{memo: &nodeRegions{Lookup: lookup, regions: map[string]string{}}, envRegion: envRegion, nodeName: nodeName}
}

// Region returns the primary region for a Mount of pod namespace/pod whose
// class names classRegion (possibly empty).
func (r *Regions) Region(ctx context.Context, classRegion, namespace, pod string) (string, error) {
	return ResolveRegion(ctx, r.memo, classRegion, r.envRegion, r.nodeName, namespace, pod)
}

// nodeRegions is a Lookup whose NodeRegion answers are remembered once
// found; concurrent first lookups of one node share one API call. A node
// without the label is asked again next time (labels may be added late).
//
// The shared call runs detached from every caller (bounded by getBudget):
// a caller whose Mount is cancelled or times out stops waiting, and the
// others joined on the call still get its answer.
type nodeRegions struct {
	Lookup
	group   singleflight.Group
	mu      sync.Mutex
	regions map[string]string
}

func (n *nodeRegions) NodeRegion(ctx context.Context, nodeName string) (string, error) {
	n.mu.Lock()
	r, ok := n.regions[nodeName]
	n.mu.Unlock()
	if ok {
		return r, nil
	}
	ch := n.group.DoChan(nodeName, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), getBudget)
		defer cancel()
		r, err := n.Lookup.NodeRegion(lctx, nodeName)
		if err == nil && r != "" {
			n.mu.Lock()
			n.regions[nodeName] = r
			n.mu.Unlock()
		}
		return r, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		v, ok := res.Val.(string)
		if !ok {
			return "", errNoAnswer
		}
		return v, nil
	case <-ctx.Done():
		return "", failure.New(failure.Timeout, "waiting for the Kubernetes API to answer for Node %s: %s", nodeName, kubeCause(ctx.Err()))
	}
}
