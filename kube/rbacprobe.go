package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// The two resources the daemon reads as metadata.
var (
	serviceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	nodes           = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// reviewPath is where SelfSubjectAccessReviews are created.
const reviewPath = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

// access is whether the daemon may list and watch a resource, and how that
// was learnt (for the start log line).
type access struct {
	allowed bool
	how     string
}

// probe decides whether the daemon may list and watch ServiceAccounts
// (cluster-wide) and, when nodeName is set, that Node.
func (a *api) probe(ctx context.Context, nodeName string) (sa, node access, err error) {
	if sa, err = a.checkListWatch(ctx, serviceAccounts, ""); err != nil {
		return access{}, access{}, err
	}
	if nodeName != "" {
		if node, err = a.checkListWatch(ctx, nodes, nodeName); err != nil {
			return access{}, access{}, err
		}
	}
	return sa, node, nil
}

// checkListWatch decides whether the daemon may list and watch resource
// (cluster-wide, or the one object name when name is set, as a
// metadata.name field selector is authorized).
//
// First it asks the API server with a SelfSubjectAccessReview per verb
// (which any authenticated client may create). When a review is denied, or
// the API server refuses reviews, it tries: one list with limit 1 and one
// watch from that list's resourceVersion, closed at once. A 403 on either
// means no (the reference provider's ClusterRole grants get only); a
// review can be denied by an authorizer that still lets the request
// through, which the trial catches. Any other failure is returned: the
// API server must be reachable for the daemon to start.
func (a *api) checkListWatch(ctx context.Context, resource schema.GroupVersionResource, name string) (access, error) {
	reviewed := true
	for _, verb := range []string{"list", "watch"} {
		ok, err := a.selfReview(ctx, verb, resource.Resource, name)
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
	c := a.meta.Resource(resource).Namespace(metav1.NamespaceAll)
	l, err := c.List(ctx, opts)
	if err != nil {
		return trialResult(err, "list", resource.Resource)
	}
	timeout := int64(1)
	w, err := c.Watch(ctx, metav1.ListOptions{FieldSelector: opts.FieldSelector, ResourceVersion: l.ResourceVersion, TimeoutSeconds: &timeout})
	if err != nil {
		return trialResult(err, "watch", resource.Resource)
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
func (a *api) selfReview(ctx context.Context, verb, resource, name string) (bool, error) {
	body, err := json.Marshal(&authorizationv1.SelfSubjectAccessReview{
		TypeMeta: metav1.TypeMeta{Kind: "SelfSubjectAccessReview", APIVersion: authorizationv1.SchemeGroupVersion.String()},
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: verb, Version: "v1", Resource: resource, Name: name,
		}},
	})
	if err != nil {
		return false, fmt.Errorf("kube: encoding a SelfSubjectAccessReview: %w", err)
	}
	var r authorizationv1.SelfSubjectAccessReview
	if err := a.do(ctx, a.rest.Post().AbsPath(reviewPath).Body(body), &r); err != nil {
		return false, failure.Wrap(failure.Unavailable, err, "SelfSubjectAccessReview for %s %s", verb, resource)
	}
	return r.Status.Allowed && !r.Status.Denied, nil
}
