// Package fakekube is a tiny in-process stand-in for the Kubernetes API
// server: plain HTTP on 127.0.0.1, serving the few reads the provider makes
// (ServiceAccounts, Nodes, Pods) in real Kubernetes JSON, so that the
// unmodified client-go (clientsets, the metadata client, informers,
// discovery) works against it.
// It serves `make demo` and tests that want a real HTTP client path rather
// than client-go's fake clientset.
//
// It owns its in-memory objects and nothing else: it never talks to a real
// cluster, never authenticates or authorizes a caller (DenyListWatch only
// imitates the reference provider's RBAC) and never accepts writes over
// HTTP; tests change objects through Go methods.
//
// # What is served
//
//   - GET, LIST and WATCH of serviceaccounts (namespaced and across all
//     namespaces), nodes and pods, under /api/v1. Lists carry
//     metadata.resourceVersion; single objects and watch events carry kind
//     and apiVersion, list items do not (as the API server does).
//   - WATCH (?watch=true) streams one JSON event per line,
//     {"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK","object":{...}}.
//     resourceVersion "" or "0" starts with synthetic ADDED events for what
//     exists; a later resourceVersion replays every change after it (410
//     Expired if it was compacted away). sendInitialEvents=true (client-go's
//     watch-list, on by default since 1.35) sends the current state and then
//     the BOOKMARK annotated k8s.io/initial-events-end that ends the initial
//     sync. timeoutSeconds ends the stream.
//   - Metadata only, as client-go's metadata client asks for it: an Accept
//     media range application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1
//     answers a get, and each watch event's object, with a
//     PartialObjectMetadata (kind and apiVersion meta.k8s.io/v1 set, the
//     object's metadata only); as=PartialObjectMetadataList answers a list
//     with a PartialObjectMetadataList whose items carry their kind. Ranges
//     are tried in order; protobuf and other forms are passed over, a plain
//     application/json range (or no JSON range at all) gets the whole
//     objects, and JSON ranges that all ask for other forms get 406.
//   - fieldSelector on metadata.name and metadata.namespace (and, for pods,
//     spec.nodeName and spec.serviceAccountName); labelSelector. A watch
//     filters each event on the object as it is then: an object that stops
//     matching a selector is not reported as DELETED, unlike the API server.
//   - SelfSubjectAccessReview (POST; protobuf, JSON or YAML): allowed for get, list and watch
//     of the served resources, get only while DenyListWatch is on; denied
//     for everything else, as RBAC with such a ClusterRole would answer.
//   - Discovery: /api, /api/v1, /apis (authorization.k8s.io/v1 only),
//     /version, and /healthz, /livez, /readyz, enough for client-go's
//     discovery client.
//   - Errors are metav1.Status JSON with the API server's reasons: NotFound,
//     Forbidden (DenyListWatch), BadRequest, MethodNotAllowed (every other
//     write), Expired, NotAcceptable.
//
// limit and continue are ignored: lists are never paginated.
package fakekube
