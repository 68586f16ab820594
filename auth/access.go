package auth

import (
	"context"
	"errors"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// access is whether the daemon may list and watch a resource, and how that
// was learnt (for the start log line).
type access struct {
	allowed bool
	how     string
}

// checkListWatch decides whether the daemon may list and watch resource
// (a core/v1 resource: cluster-wide, or the one object name when name is
// set, as a metadata.name field selector is authorized).
//
// First it asks the API server with a SelfSubjectAccessReview per verb
// (which any authenticated client may create). When a review is denied, or
// the API server refuses reviews, it tries: one list with limit 1 and one
// watch from that list's resourceVersion, closed at once. A 403 on either
// means no (the reference provider's ClusterRole grants get only); a
// review can be denied by an authorizer that still lets the request
// through, which the trial catches. Any other failure is returned: the
// API server must be reachable for the daemon to start.
func checkListWatch(ctx context.Context, client kubernetes.Interface, resource, name string) (access, error) {
	reviewed := true
	for _, verb := range []string{"list", "watch"} {
		ok, err := selfReview(ctx, client, verb, resource, name)
		if err != nil || !ok {
			reviewed = false
			break
		}
	}
	if reviewed {
		return access{allowed: true, how: "SelfSubjectAccessReview"}, nil
	}

	opts := metav1.ListOptions{Limit: 1}
	if name != "" {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
	var (
		listFn  func(context.Context, metav1.ListOptions) (string, error)
		watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)
	)
	switch resource {
	case "serviceaccounts":
		c := client.CoreV1().ServiceAccounts(metav1.NamespaceAll)
		listFn = func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := c.List(ctx, o)
			if err != nil {
				return "", err
			}
			return l.ResourceVersion, nil
		}
		watchFn = c.Watch
	case "nodes":
		c := client.CoreV1().Nodes()
		listFn = func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := c.List(ctx, o)
			if err != nil {
				return "", err
			}
			return l.ResourceVersion, nil
		}
		watchFn = c.Watch
	default:
		return access{}, fmt.Errorf("auth: no trial list for %s", resource)
	}
	rv, err := listFn(ctx, opts)
	if err != nil {
		return trialResult(err, "list", resource)
	}
	timeout := int64(1)
	w, err := watchFn(ctx, metav1.ListOptions{FieldSelector: opts.FieldSelector, ResourceVersion: rv, TimeoutSeconds: &timeout})
	if err != nil {
		return trialResult(err, "watch", resource)
	}
	w.Stop()
	return access{allowed: true, how: "trial list and watch"}, nil
}

// trialResult maps the error of a trial list or watch: 403 is "not
// allowed", anything else stops the start.
func trialResult(err error, verb, resource string) (access, error) {
	if apierrors.IsForbidden(err) {
		return access{allowed: false, how: "trial " + verb + " (403)"}, nil
	}
	kind := failure.Unavailable
	if errors.Is(err, context.DeadlineExceeded) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) {
		kind = failure.Timeout
	}
	return access{}, failure.Wrap(kind, err,
		"checking whether the daemon may %s %s (a trial %s); the Kubernetes API server must answer for the daemon to start", verb, resource, verb)
}

// selfReview asks whether the daemon may verb resource (cluster-wide, or
// the object name).
func selfReview(ctx context.Context, client kubernetes.Interface, verb, resource, name string) (bool, error) {
	r, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: verb, Version: "v1", Resource: resource, Name: name,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, failure.Wrap(failure.Unavailable, err, "SelfSubjectAccessReview for %s %s", verb, resource)
	}
	return r.Status.Allowed && !r.Status.Denied, nil
}
