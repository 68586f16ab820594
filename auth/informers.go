package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// InformerOptions tune NewInformerLookup. The zero value is usable.
type InformerOptions struct {
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
	// getCacheSize bounds each cache of direct reads. A node runs a few
	// hundred pods at most, so this many ServiceAccounts or pods is plenty.
	getCacheSize = 4096
	// getBudget bounds one direct GET, however many Mounts wait for it.
	getBudget = 15 * time.Second
)

// listWatchRule is the ClusterRole rule that gives the daemon zero
// Kubernetes API calls per Mount.
// Single quotes keep it readable once a log line quotes it.
const listWatchRule = `{apiGroups: [''], resources: [serviceaccounts, nodes], verbs: [get, list, watch]}`

// NewInformerLookup returns a Lookup that answers from shared informers:
// ServiceAccounts of every namespace (kept as name, namespace and the
// eks.amazonaws.com/ annotations only) and, when opts.NodeName is set, that
// Node (kept as name and labels). In steady state a lookup makes no API
// call. It blocks until the informers have synced (at most
// opts.SyncTimeout) and stops them when ctx ends.
//
// Freshness: an annotation change is seen as soon as the watch delivers it.
// A ServiceAccount missing from the cache (created after the last event, or
// the informer lagging), or present without a role annotation, is read with
// one direct GET before an answer is given, so a ServiceAccount that exists
// with a role is never reported as missing one.
//
// RBAC: at start it asks the API server (SelfSubjectAccessReview) whether the
// daemon may list and watch serviceaccounts (cluster-wide) and its node; if
// the review is denied or refused, a trial list and watch decide, a 403
// meaning no. A resource the daemon may not list and watch (the reference
// provider's ClusterRole grants get only) is read with direct GETs whose
// answers are reused for opts.FallbackTTL, and one log line at start says so
// and which rule to add.
//
// Pods are read with a direct GET (only when a class names no region and
// the daemon knows neither AWS_REGION nor NODE_NAME), remembered per pod.
func NewInformerLookup(ctx context.Context, client kubernetes.Interface, opts InformerOptions) (Lookup, error) {
	if opts.SyncTimeout < 0 || opts.FallbackTTL < 0 {
		return nil, fmt.Errorf("auth: SyncTimeout and FallbackTTL must not be negative, got %v and %v", opts.SyncTimeout, opts.FallbackTTL)
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
	logger := klog.FromContext(ctx)
	l := &informerLookup{
		direct:   directLookup{client: client},
		nodeName: opts.NodeName,
		sas:      newGetCache(opts.FallbackTTL, opts.Clock),
		nodes:    newGetCache(opts.FallbackTTL, opts.Clock),
		pods:     newGetCache(0, opts.Clock),
	}

	startCtx, cancelStart := context.WithTimeout(ctx, opts.SyncTimeout)
	defer cancelStart()
	saAccess, err := checkListWatch(startCtx, client, "serviceaccounts", "")
	if err != nil {
		return nil, err
	}
	nodeAccess := access{}
	if opts.NodeName != "" {
		if nodeAccess, err = checkListWatch(startCtx, client, "nodes", opts.NodeName); err != nil {
			return nil, err
		}
	}

	// The informers live as long as ctx; a failed start stops them.
	runCtx, stop := context.WithCancel(ctx)
	var (
		factories []informers.SharedInformerFactory
		synced    []cache.InformerSynced
		lastErr   watchErrors
	)
	if saAccess.allowed {
		f := informers.NewSharedInformerFactory(client, 0)
		inf := f.Core().V1().ServiceAccounts()
		if err := setUp(inf.Informer(), stripServiceAccount, &lastErr); err != nil {
			stop()
			return nil, err
		}
		l.saLister = inf.Lister()
		factories, synced = append(factories, f), append(synced, inf.Informer().HasSynced)
	}
	if nodeAccess.allowed {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", opts.NodeName).String()
		}))
		inf := f.Core().V1().Nodes()
		if err := setUp(inf.Informer(), stripNode, &lastErr); err != nil {
			stop()
			return nil, err
		}
		l.nodeLister = inf.Lister()
		factories, synced = append(factories, f), append(synced, inf.Informer().HasSynced)
	}
	shutdown := func() {
		stop()
		for _, f := range factories {
			f.Shutdown()
		}
	}
	for _, f := range factories {
		f.Start(runCtx.Done())
	}
	began := time.Now()
	if !cache.WaitForCacheSync(startCtx.Done(), synced...) {
		shutdown()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := fmt.Sprintf("the ServiceAccount and Node informers did not sync within %v", opts.SyncTimeout)
		if err := lastErr.get(); err != nil {
			return nil, failure.Wrap(failure.Unavailable, err, "%s", msg)
		}
		return nil, failure.New(failure.Unavailable, "%s; is the Kubernetes API server reachable?", msg)
	}
	// Stop the informers (and wait for them) when the daemon stops.
	go func() {
		<-runCtx.Done()
		shutdown()
	}()

	logStart(logger, saAccess, nodeAccess, opts, time.Since(began))
	return l, nil
}

// setUp installs the transform and the watch error recorder of an informer
// before it starts.
func setUp(inf cache.SharedIndexInformer, transform cache.TransformFunc, lastErr *watchErrors) error {
	if err := inf.SetTransform(transform); err != nil {
		return fmt.Errorf("auth: informer transform: %w", err)
	}
	if err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		lastErr.set(err)
		cache.DefaultWatchErrorHandler(ctx, r, err)
	}); err != nil {
		return fmt.Errorf("auth: informer error handler: %w", err)
	}
	return nil
}

// logStart writes the one line that says how the daemon reads Kubernetes:
// through informers, or (the reference provider's get-only RBAC) with
// cached GETs, and then what it costs and how to fix it.
func logStart(logger klog.Logger, sa, node access, opts InformerOptions, took time.Duration) {
	var denied []string
	if !sa.allowed {
		denied = append(denied, "serviceaccounts")
	}
	if opts.NodeName != "" && !node.allowed {
		denied = append(denied, "nodes")
	}
	if len(denied) == 0 {
		logger.Info("reading ServiceAccounts and this node through informers: no Kubernetes API call per Mount",
			"node", opts.NodeName, "syncTook", took.Round(time.Millisecond))
		return
	}
	what := strings.Join(denied, " and ")
	logger.Info(fmt.Sprintf("the daemon may not list and watch %s (its ClusterRole grants get only, like the reference provider's): "+
		"reading them with a GET per object, each answer reused for %v, so Mounts cost Kubernetes API calls and a changed "+
		"eks.amazonaws.com/role-arn annotation applies within %v; for zero API calls per Mount add this rule to the daemon's ClusterRole: %s",
		what, opts.FallbackTTL, opts.FallbackTTL, listWatchRule),
		"denied", what, "detectedBy", strings.TrimSuffix(sa.how+"; "+node.how, "; "), "node", opts.NodeName)
}

// watchErrors remembers the informers' last list or watch error, so a sync
// timeout can say why.
type watchErrors struct {
	mu  sync.Mutex
	err error
}

func (w *watchErrors) set(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

func (w *watchErrors) get() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// stripServiceAccount keeps what RoleARN reads: with 10k+ ServiceAccounts
// in a cluster, each node's daemon would otherwise hold every
// ServiceAccount's secrets list, labels, managed fields and
// last-applied-configuration. Only eks.amazonaws.com/ annotations stay.
func stripServiceAccount(obj any) (any, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return obj, nil // a tombstone; the store drops it
	}
	out := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: sa.Name, Namespace: sa.Namespace, ResourceVersion: sa.ResourceVersion,
	}}
	for k, v := range sa.Annotations {
		if strings.HasPrefix(k, "eks.amazonaws.com/") {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[k] = v
		}
	}
	return out, nil
}

// stripNode keeps a Node's name and labels (its status is large and
// changes every few seconds: heartbeats would not count, but images and
// conditions would be held for nothing).
func stripNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, ResourceVersion: n.ResourceVersion, Labels: n.Labels,
	}}, nil
}

// informerLookup answers from informers where it may, else from direct
// GETs through short caches.
type informerLookup struct {
	direct   directLookup
	nodeName string

	// saLister is nil when the daemon may not list and watch
	// ServiceAccounts; nodeLister when it may not watch its node (or
	// NODE_NAME is unknown).
	saLister   corelisters.ServiceAccountLister
	nodeLister corelisters.NodeLister

	// sas and nodes cache direct reads in the fallback mode (and share
	// concurrent reads of one object in every mode); pods remembers each
	// pod's node.
	sas, nodes, pods *getCache
}

var _ Lookup = (*informerLookup)(nil)

func (l *informerLookup) RoleARN(ctx context.Context, namespace, serviceAccount string) (string, error) {
	key := namespace + "/" + serviceAccount
	if l.saLister == nil {
		return l.sas.get(ctx, key, true, func(ctx context.Context) (string, error) {
			return l.direct.RoleARN(ctx, namespace, serviceAccount)
		})
	}
	sa, err := l.saLister.ServiceAccounts(namespace).Get(serviceAccount)
	if err == nil {
		if arn := sa.Annotations[RoleARNAnnotation]; arn != "" {
			return arn, nil
		}
	} else if !apierrors.IsNotFound(err) {
		return "", failure.Wrap(failure.Internal, err, "reading ServiceAccount %s from the informer", key)
	}
	// Not in the cache, or without a role there: the watch may not have
	// delivered the creation or the annotation yet. Ask the API server
	// before saying anything is missing (this path is taken only by
	// Mounts that would otherwise fail, and by the first Mount of a new
	// ServiceAccount). Not cached: the informer will have it.
	return l.sas.get(ctx, key, false, func(ctx context.Context) (string, error) {
		return l.direct.RoleARN(ctx, namespace, serviceAccount)
	})
}

func (l *informerLookup) NodeRegion(ctx context.Context, nodeName string) (string, error) {
	if l.nodeLister != nil && nodeName == l.nodeName {
		if n, err := l.nodeLister.Get(nodeName); err == nil {
			if r := regionOf(n); r != "" {
				return r, nil
			}
		}
		// Missing or without a region label: confirm with the API server.
		return l.nodes.get(ctx, nodeName, false, func(ctx context.Context) (string, error) {
			return l.direct.NodeRegion(ctx, nodeName)
		})
	}
	return l.nodes.get(ctx, nodeName, true, func(ctx context.Context) (string, error) {
		return l.direct.NodeRegion(ctx, nodeName)
	})
}

// PodNodeName reads the pod once and remembers its node. The driver's
// request names the pod by namespace and name only, so that is the key.
// A pod never moves, and a later pod of the same name that reaches this
// daemon runs on this daemon's node too (the driver on a node talks only
// to the provider socket on that node), so a remembered answer stays right.
func (l *informerLookup) PodNodeName(ctx context.Context, namespace, pod string) (string, error) {
	return l.pods.get(ctx, namespace+"/"+pod, true, func(ctx context.Context) (string, error) {
		return l.direct.PodNodeName(ctx, namespace, pod)
	})
}

// regionOf returns a node's region label ("" when it has none).
func regionOf(n *corev1.Node) string {
	if r := n.Labels[RegionLabel]; r != "" {
		return r
	}
	return n.Labels[DeprecatedRegionLabel]
}

// errNoAnswer guards a singleflight result of the wrong type (a bug).
var errNoAnswer = errors.New("auth: no answer from a shared read")
