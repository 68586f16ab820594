// Package kube is everything the daemon reads from the Kubernetes API: the
// IAM role of a ServiceAccount (its eks.amazonaws.com/role-arn annotation),
// the region label of a node (topology.kubernetes.io/region, or the
// deprecated failure-domain label), and, when the daemon does not know its
// node, a pod's spec.nodeName. Client reads them; Regions turns them into a
// Mount's primary region.
//
// It reads ServiceAccounts and Nodes as metadata only (client-go's metadata
// client: the API server sends PartialObjectMetadata), through informers
// where RBAC lets the daemon list and watch (zero API calls per Mount), and
// with GETs reused for a short while where it may only get (the reference
// provider's ClusterRole). A pod is one GET, decoded into its node name
// alone. Of the Kubernetes API groups it imports authorization/v1 only (for
// SelfSubjectAccessReview): no clientset, no informer factory, no typed
// objects, so the daemon's binary and memory carry none of the others.
//
// It must never report a ServiceAccount that has a role as having none (a
// GET confirms before a missing role is reported), keep a node's region
// label for a node that has none (labels may be added late), or block a
// Mount past its deadline on the API server (every read has a deadline of
// its own, and a Mount stops waiting for one when its context ends).
package kube
