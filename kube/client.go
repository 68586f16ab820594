package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Kubernetes names the daemon reads.
const (
	RoleARNAnnotation     = "eks.amazonaws.com/role-arn"
	RegionLabel           = "topology.kubernetes.io/region"
	DeprecatedRegionLabel = "failure-domain.beta.kubernetes.io/region"
)

// Options tune Start. Kubeconfig, QPS, Burst and UserAgent say how to reach
// the API server; the rest has usable zero values.
type Options struct {
	// Kubeconfig is a kubeconfig file (--kubeconfig); "" is the in-cluster
	// configuration.
	Kubeconfig string
	// QPS and Burst bound the requests of all the daemon's Kubernetes reads
	// together (--qps, --burst).
	QPS   float32
	Burst int
	// UserAgent names the daemon to the API server.
	UserAgent string
	// NodeName is this daemon's node (NODE_NAME). When set, that one Node is
	// watched (a metadata.name field selector); when empty no Node is
	// watched and nodes are read with a GET when a Mount needs one (Regions
	// remembers their region).
	NodeName string
	// SyncTimeout bounds the start: the RBAC checks and the informers' first
	// sync. Default 30s.
	SyncTimeout time.Duration
	// FallbackTTL is how long a ServiceAccount or Node read with a direct GET
	// is reused when the daemon may not list and watch that resource.
	// Default 30s.
	FallbackTTL time.Duration
	// Clock is the time source of the fallback caches; default time.Now.
	Clock func() time.Time
}

const (
	defaultSyncTimeout = 30 * time.Second
	defaultFallbackTTL = 30 * time.Second
)

// Client answers the daemon's questions to the Kubernetes API: from
// informers where it may list and watch, else from direct GETs through
// short caches. Safe for concurrent use.
type Client struct {
	api      *api
	nodeName string

	// saStore is nil when the daemon may not list and watch
	// ServiceAccounts; nodeStore when it may not watch its node (or
	// NODE_NAME is unknown). Both hold *metav1.PartialObjectMetadata.
	saStore, nodeStore cache.Store

	// sas and nodes cache direct reads in the fallback mode (and share
	// concurrent reads of one object in every mode); pods remembers each
	// pod's node.
	sas, nodes, pods *getCache
	// tokens remembers the tokens requested for pods (PodToken).
	tokens *podTokens
}

// Start connects to the API server, decides what RBAC lets the daemon do
// (rbacprobe.go), starts the informers it may run and waits until they
// have synced (at most opts.SyncTimeout). The informers stop when ctx
// ends. One log line says how the daemon reads Kubernetes.
//
// Freshness: an annotation change is seen as soon as the watch delivers it.
// A ServiceAccount missing from the informer (created after the last event,
// or the informer lagging), or present without a role annotation, is read
// with one direct GET before an answer is given, so a ServiceAccount that
// exists with a role is never reported as missing one. Under get-only RBAC
// each ServiceAccount and Node is read with a GET whose answer is reused
// for opts.FallbackTTL.
//
// Pods are read with a direct GET (only when a class names no region and
// the daemon knows neither AWS_REGION nor NODE_NAME), remembered per pod.
func Start(ctx context.Context, opts Options) (*Client, error) {
	rc, err := restConfig(opts)
	if err != nil {
		return nil, err
	}
	return start(ctx, rc, opts)
}

// restConfig is the connection Options describe.
func restConfig(opts Options) (*rest.Config, error) {
	var (
		rc  *rest.Config
		err error
	)
	if opts.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration (--kubeconfig %q): %w", opts.Kubeconfig, err)
	}
	rc.QPS, rc.Burst, rc.UserAgent = opts.QPS, opts.Burst, opts.UserAgent
	return rc, nil
}

func start(ctx context.Context, rc *rest.Config, opts Options) (*Client, error) {
	if opts.SyncTimeout < 0 || opts.FallbackTTL < 0 {
		return nil, fmt.Errorf("kube: SyncTimeout and FallbackTTL must not be negative, got %v and %v", opts.SyncTimeout, opts.FallbackTTL)
	}
	if opts.SyncTimeout == 0 {
		opts.SyncTimeout = defaultSyncTimeout
	}
	if opts.FallbackTTL == 0 {
		opts.FallbackTTL = defaultFallbackTTL
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	a, err := newAPI(rc)
	if err != nil {
		return nil, err
	}
	c := &Client{
		api:      a,
		nodeName: opts.NodeName,
		sas:      newGetCache(opts.FallbackTTL, opts.Clock),
		nodes:    newGetCache(opts.FallbackTTL, opts.Clock),
		pods:     newGetCache(0, opts.Clock),
		tokens:   newPodTokens(opts.Clock),
	}
	startCtx, cancel := context.WithTimeout(ctx, opts.SyncTimeout)
	defer cancel()
	sa, node, err := a.probe(startCtx, opts.NodeName)
	if err != nil {
		return nil, err
	}
	took, err := c.runInformers(ctx, startCtx, sa.allowed, node.allowed, opts)
	if err != nil {
		return nil, err
	}
	logStart(klog.FromContext(ctx), sa, node, opts, took)
	return c, nil
}

// api is the daemon's two clients of the API server, which share one HTTP
// client and one rate limiter (--qps, --burst): the metadata client, for
// ServiceAccounts and Nodes, and a plain REST client for the two requests
// that are not about metadata (a SelfSubjectAccessReview, a Pod's node).
type api struct {
	meta metadata.Interface
	rest rest.Interface
}

func newAPI(rc *rest.Config) (*api, error) {
	rc = rest.CopyConfig(rc)
	if rc.RateLimiter == nil && rc.QPS > 0 {
		if rc.Burst <= 0 {
			return nil, fmt.Errorf("kube: a burst greater than 0 is required with a QPS, got %d", rc.Burst)
		}
		rc.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(rc.QPS, rc.Burst)
	}
	if rc.UserAgent == "" {
		rc.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: HTTP client: %w", err)
	}
	meta, err := metadata.NewForConfigAndClient(rc, hc)
	if err != nil {
		return nil, fmt.Errorf("kube: metadata client: %w", err)
	}
	// JSON both ways; the meta scheme decodes the API server's Status
	// errors, the only typed objects this client reads.
	jc := rest.CopyConfig(rc)
	jc.ContentType, jc.AcceptContentTypes = "application/json", "application/json"
	jc.NegotiatedSerializer = metainternalversionscheme.Codecs.WithoutConversion()
	plain, err := rest.UnversionedRESTClientForConfigAndClient(jc, hc)
	if err != nil {
		return nil, fmt.Errorf("kube: REST client: %w", err)
	}
	return &api{meta: meta, rest: plain}, nil
}

// do sends req and decodes its JSON answer into out. An error answer comes
// back as the API server's Status (a StatusError).
func (a *api) do(ctx context.Context, req *rest.Request, out any) error {
	res := req.Do(ctx)
	if err := res.Error(); err != nil {
		return err
	}
	raw, err := res.Raw()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// RoleARN returns the ServiceAccount's eks.amazonaws.com/role-arn
// annotation; a missing ServiceAccount or annotation is a
// FailedPrecondition that says what to fix.
func (c *Client) RoleARN(ctx context.Context, namespace, serviceAccount string) (string, error) {
	key := namespace + "/" + serviceAccount
	fetch := func(ctx context.Context) (string, error) { return c.api.roleARN(ctx, namespace, serviceAccount) }
	if c.saStore == nil {
		return c.sas.get(ctx, key, true, fetch)
	}
	obj, ok, err := c.saStore.GetByKey(key)
	if err != nil {
		return "", failure.Wrap(failure.Internal, err, "reading ServiceAccount %s from the informer", key)
	}
	if m, isMeta := obj.(*metav1.PartialObjectMetadata); ok && isMeta {
		if arn := m.Annotations[RoleARNAnnotation]; arn != "" {
			return arn, nil
		}
	}
	// Not in the informer, or without a role there: the watch may not have
	// delivered the creation or the annotation yet. Ask the API server
	// before saying anything is missing (this path is taken only by
	// Mounts that would otherwise fail, and by the first Mount of a new
	// ServiceAccount). Not cached: the informer will have it.
	return c.sas.get(ctx, key, false, fetch)
}

// nodeRegion returns the node's region label, "" when it has none.
func (c *Client) nodeRegion(ctx context.Context, nodeName string) (string, error) {
	fetch := func(ctx context.Context) (string, error) { return c.api.nodeRegion(ctx, nodeName) }
	if c.nodeStore != nil && nodeName == c.nodeName {
		if obj, ok, err := c.nodeStore.GetByKey(nodeName); err == nil && ok {
			if m, isMeta := obj.(*metav1.PartialObjectMetadata); isMeta {
				if r := regionOf(m.Labels); r != "" {
					return r, nil
				}
			}
		}
		// Missing or without a region label: confirm with the API server.
		return c.nodes.get(ctx, nodeName, false, fetch)
	}
	return c.nodes.get(ctx, nodeName, true, fetch)
}

// podNodeName reads the pod once and remembers its node. The driver's
// request names the pod by namespace and name only, so that is the key.
// A pod never moves, and a later pod of the same name that reaches this
// daemon runs on this daemon's node too (the driver on a node talks only
// to the provider socket on that node), so a remembered answer stays right.
func (c *Client) podNodeName(ctx context.Context, namespace, pod string) (string, error) {
	return c.pods.get(ctx, namespace+"/"+pod, true, func(ctx context.Context) (string, error) {
		return c.api.podNodeName(ctx, namespace, pod)
	})
}

// regionOf returns the region a node's labels name ("" when none does).
func regionOf(labels map[string]string) string {
	if r := labels[RegionLabel]; r != "" {
		return r
	}
	return labels[DeprecatedRegionLabel]
}
