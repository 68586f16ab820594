package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// listWatchRule is the ClusterRole rule that gives the daemon zero
// Kubernetes API calls per Mount.
// Single quotes keep it readable once a log line quotes it.
const listWatchRule = `{apiGroups: [''], resources: [serviceaccounts, nodes], verbs: [get, list, watch]}`

// runInformers starts the informers RBAC allows (watchSAs: every
// ServiceAccount; watchNode: the node opts.NodeName) and waits, until
// startCtx ends, for them to sync. They run until ctx ends; a failed start
// stops them. It returns how long the sync took.
func (c *Client) runInformers(ctx, startCtx context.Context, watchSAs, watchNode bool, opts Options) (time.Duration, error) {
	runCtx, stop := context.WithCancel(ctx)
	var (
		running []cache.SharedIndexInformer
		lastErr watchErrors
	)
	if watchSAs {
		inf, err := c.api.informer(serviceAccounts, "", stripServiceAccount, &lastErr)
		if err != nil {
			stop()
			return 0, err
		}
		c.saStore, running = inf.GetStore(), append(running, inf)
	}
	if watchNode {
		inf, err := c.api.informer(nodes, opts.NodeName, stripNode, &lastErr)
		if err != nil {
			stop()
			return 0, err
		}
		c.nodeStore, running = inf.GetStore(), append(running, inf)
	}
	var wg sync.WaitGroup
	shutdown := func() {
		stop()
		wg.Wait()
	}
	synced := make([]cache.InformerSynced, 0, len(running))
	for _, inf := range running {
		wg.Go(func() { inf.RunWithContext(runCtx) })
		synced = append(synced, inf.HasSynced)
	}
	began := time.Now()
	if !cache.WaitForCacheSync(startCtx.Done(), synced...) {
		shutdown()
		return 0, syncFailure(ctx, opts.SyncTimeout, lastErr.get())
	}
	// Stop the informers (and wait for them) when the daemon stops.
	go func() {
		<-runCtx.Done()
		shutdown()
	}()
	return time.Since(began), nil
}

// syncFailure says why the informers did not sync in time.
func syncFailure(ctx context.Context, timeout time.Duration, lastErr error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := fmt.Sprintf("the ServiceAccount and Node informers did not sync within %v", timeout)
	if lastErr != nil {
		return failure.Wrap(failure.Unavailable, lastErr, "%s", msg)
	}
	return failure.New(failure.Unavailable, "%s; is the Kubernetes API server reachable?", msg)
}

// informer returns an informer of resource's metadata in every namespace
// (only the object name when name is set, as a metadata.name field
// selector), keeping what transform keeps, never resynced, recording its
// list and watch errors in lastErr. It is built as client-go's
// metadatainformer builds one, without that package's factory (which
// brings every API group into the binary).
func (a *api) informer(resource schema.GroupVersionResource, name string, transform cache.TransformFunc, lastErr *watchErrors) (cache.SharedIndexInformer, error) {
	c := a.meta.Resource(resource).Namespace(metav1.NamespaceAll)
	selector := ""
	if name != "" {
		selector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return c.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, a.meta),
		&metav1.PartialObjectMetadata{}, 0, cache.Indexers{})
	if err := inf.SetTransform(transform); err != nil {
		return nil, fmt.Errorf("kube: informer transform: %w", err)
	}
	if err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		lastErr.set(err)
		cache.DefaultWatchErrorHandler(ctx, r, err)
	}); err != nil {
		return nil, fmt.Errorf("kube: informer error handler: %w", err)
	}
	return inf, nil
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
// ServiceAccount's labels, managed fields and last-applied-configuration.
// Only eks.amazonaws.com/ annotations stay.
func stripServiceAccount(obj any) (any, error) {
	sa, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil // a tombstone; the store drops it
	}
	out := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
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

// stripNode keeps a Node's name and labels (its annotations and managed
// fields are large, and its status is not even sent: metadata only).
func stripNode(obj any) (any, error) {
	n, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, ResourceVersion: n.ResourceVersion, Labels: n.Labels,
	}}, nil
}

// logStart writes the one line that says how the daemon reads Kubernetes:
// through informers, or (the reference provider's get-only RBAC) with
// cached GETs, and then what it costs and how to fix it.
func logStart(logger klog.Logger, sa, node access, opts Options, took time.Duration) {
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
