package fakekube

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes/scheme"
)

// forbiddenUser is who DenyListWatch's 403 names: the reference provider's
// service account, whose ClusterRole grants get only.
const forbiddenUser = "system:serviceaccount:kube-system:csi-secrets-store-provider-aws"

// request is one parsed resource request.
type request struct {
	verb      string // get, list, watch, create, update, patch, delete, deletecollection
	res       *resource
	namespace string
	name      string
}

// ServeHTTP answers one Kubernetes API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if r.Method == http.MethodGet {
		if body, ok := s.nonResource(path); ok {
			s.count("get " + path)
			writeJSON(w, http.StatusOK, body)
			return
		}
	}
	if path == reviewPath {
		if r.Method != http.MethodPost {
			s.count(strings.ToLower(r.Method) + " selfsubjectaccessreviews")
			writeStatus(w, apierrors.NewMethodNotSupported(schema.GroupResource{Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"}, strings.ToLower(r.Method)))
			return
		}
		s.count("create selfsubjectaccessreviews")
		s.review(w, r)
		return
	}
	if m := tokenPath.FindStringSubmatch(path); m != nil && r.Method == http.MethodPost {
		s.count("create serviceaccounts/token")
		s.token(w, r, m[1], m[2])
		return
	}
	req, status := s.parse(r, path)
	if status != nil {
		s.count(strings.ToLower(r.Method) + " " + path)
		writeStatus(w, status)
		return
	}
	s.count(req.verb + " " + req.res.name)

	gr := schema.GroupResource{Resource: req.res.name}
	switch req.verb {
	case "get", "list", "watch":
	default:
		writeStatus(w, apierrors.NewMethodNotSupported(gr, req.verb))
		return
	}
	if req.verb != "get" {
		if status := s.denied(req); status != nil {
			writeStatus(w, status)
			return
		}
	}
	metadata, status := negotiate(r, req.verb)
	if status != nil {
		writeStatus(w, status)
		return
	}
	if req.verb == "get" {
		s.get(w, req, metadata)
		return
	}
	f, status := parseFilter(req, r)
	if status != nil {
		writeStatus(w, status)
		return
	}
	if req.verb == "list" {
		s.list(w, req.res, f, metadata)
		return
	}
	s.watch(w, r, req.res, f, metadata)
}

// denied is the 403 of a list or watch under DenyListWatch, nil otherwise.
func (s *Server) denied(req *request) *apierrors.StatusError {
	s.mu.Lock()
	deny := s.denyListWatch
	s.mu.Unlock()
	if !deny {
		return nil
	}
	scope := "at the cluster scope"
	if req.namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", req.namespace)
	}
	return apierrors.NewForbidden(schema.GroupResource{Resource: req.res.name}, "", fmt.Errorf("User %q cannot %s resource %q in API group \"\" %s",
		forbiddenUser, req.verb, req.res.name, scope))
}

// nonResource answers discovery and health paths.
func (s *Server) nonResource(path string) (any, bool) {
	switch path {
	case "/api":
		return &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{
				ClientCIDR: "0.0.0.0/0", ServerAddress: strings.TrimPrefix(s.URL(), "http://"),
			}},
		}, true
	case "/api/v1":
		list := &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "v1",
		}
		for _, name := range []string{"nodes", "pods", "serviceaccounts"} {
			res := s.resources[name]
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.name, SingularName: res.singular, Namespaced: res.namespaced, Kind: res.kind,
				Verbs: metav1.Verbs{"get", "list", "watch"}, ShortNames: res.shortNames,
			})
		}
		return list, true
	case "/apis":
		return &metav1.APIGroupList{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
			Groups:   []metav1.APIGroup{authorizationGroup()},
		}, true
	case "/apis/authorization.k8s.io":
		g := authorizationGroup()
		g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		return &g, true
	case "/apis/authorization.k8s.io/v1":
		return &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "authorization.k8s.io/v1",
			APIResources: []metav1.APIResource{{
				Name: "selfsubjectaccessreviews", SingularName: "selfsubjectaccessreview",
				Kind: "SelfSubjectAccessReview", Verbs: metav1.Verbs{"create"},
			}},
		}, true
	case "/version":
		return &version.Info{
			Major: "1", Minor: "35", GitVersion: "v1.35.0-fakekube", GitCommit: "fakekube",
			GitTreeState: "clean", BuildDate: "2025-01-01T00:00:00Z", GoVersion: runtime.Version(),
			Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
		}, true
	case "/healthz", "/livez", "/readyz":
		return json.RawMessage(`"ok"`), true
	}
	return nil, false
}

// reviewPath is where client-go creates SelfSubjectAccessReviews.
const reviewPath = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

func authorizationGroup() metav1.APIGroup {
	v := metav1.GroupVersionForDiscovery{GroupVersion: "authorization.k8s.io/v1", Version: "v1"}
	return metav1.APIGroup{Name: "authorization.k8s.io", Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}
}

// review answers a SelfSubjectAccessReview as RBAC would for a caller
// allowed get, list and watch on the served resources (get only while
// DenyListWatch is on), and nothing else.
func (s *Server) review(w http.ResponseWriter, r *http.Request) {
	// The clientset sends protobuf; the universal deserializer reads that,
	// JSON and YAML.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	var ssar authorizationv1.SelfSubjectAccessReview
	if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, &ssar); err != nil {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("decoding SelfSubjectAccessReview: %v", err)))
		return
	}
	s.mu.Lock()
	deny := s.denyListWatch
	s.mu.Unlock()
	ra := ssar.Spec.ResourceAttributes
	switch {
	case ra == nil:
		ssar.Status.Reason = "fakekube reviews resource attributes only"
	case ra.Group != "" || s.resources[ra.Resource] == nil || ra.Subresource != "":
		ssar.Status.Reason = "fakekube serves no such resource"
	case ra.Verb == "get" || (!deny && (ra.Verb == "list" || ra.Verb == "watch")):
		ssar.Status.Allowed = true
		ssar.Status.Reason = `RBAC: allowed by ClusterRoleBinding "fakekube"`
	}
	ssar.TypeMeta = metav1.TypeMeta{Kind: "SelfSubjectAccessReview", APIVersion: "authorization.k8s.io/v1"}
	writeJSON(w, http.StatusCreated, &ssar)
}

// parse maps a URL under /api/v1 to a resource request.
func (s *Server) parse(r *http.Request, path string) (*request, *apierrors.StatusError) {
	notFound := &apierrors.StatusError{ErrStatus: metav1.Status{
		Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
	}}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) < 3 || parts[0] != "api" || parts[1] != "v1" {
		return nil, notFound
	}
	rest := parts[2:]
	req := &request{}
	if rest[0] == "namespaces" && len(rest) >= 3 {
		req.namespace, rest = rest[1], rest[2:]
	}
	if len(rest) > 2 {
		return nil, notFound // subresources (pods/x/status, ...) are not served
	}
	req.res = s.resources[rest[0]]
	if req.res == nil || (!req.res.namespaced && req.namespace != "") {
		return nil, notFound
	}
	if len(rest) == 2 {
		req.name = rest[1]
		if req.res.namespaced && req.namespace == "" {
			return nil, notFound
		}
	}
	watching := isTrue(r.URL.Query().Get("watch"))
	switch r.Method {
	case http.MethodGet:
		switch {
		case watching:
			req.verb = "watch"
		case req.name != "":
			req.verb = "get"
		default:
			req.verb = "list"
		}
	case http.MethodPost:
		req.verb = "create"
	case http.MethodPut:
		req.verb = "update"
	case http.MethodPatch:
		req.verb = "patch"
	case http.MethodDelete:
		req.verb = "delete"
		if req.name == "" {
			req.verb = "deletecollection"
		}
	default:
		return nil, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: req.res.name}, strings.ToLower(r.Method))
	}
	return req, nil
}

func isTrue(v string) bool { return v == "true" || v == "1" }

// parseFilter reads the namespace, fieldSelector and labelSelector; a watch
// of one named object (the old /namespaces/ns/pods/name?watch=true form)
// becomes a metadata.name selector.
func parseFilter(req *request, r *http.Request) (filter, *apierrors.StatusError) {
	q := r.URL.Query()
	f := filter{namespace: req.namespace, fields: fields.Everything(), labels: labels.Everything()}
	if v := q.Get("fieldSelector"); v != "" {
		sel, err := fields.ParseSelector(v)
		if err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("unable to parse fieldSelector %q: %v", v, err))
		}
		for _, rq := range sel.Requirements() {
			if !req.res.fieldAllowed(rq.Field) {
				return f, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", rq.Field))
			}
		}
		f.fields = sel
	}
	if req.name != "" {
		f.fields = fields.AndSelectors(f.fields, fields.OneTermEqualSelector("metadata.name", req.name))
	}
	if v := q.Get("labelSelector"); v != "" {
		sel, err := labels.Parse(v)
		if err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("unable to parse labelSelector %q: %v", v, err))
		}
		f.labels = sel
	}
	return f, nil
}

func (s *Server) get(w http.ResponseWriter, req *request, metadata bool) {
	s.mu.Lock()
	o, ok := req.res.objects[key(req.namespace, req.name)]
	var body []byte
	switch {
	case ok && metadata:
		body = encodePartial(o)
	case ok:
		body = encode(o)
	}
	s.mu.Unlock()
	if !ok {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Resource: req.res.name}, req.name))
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// listBody is a List kind: items without kind and apiVersion, as the API
// server sends them.
type listBody struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ListMeta   `json:"metadata"`
	Items           []json.RawMessage `json:"items"`
}

func (s *Server) list(w http.ResponseWriter, res *resource, f filter, metadata bool) {
	s.mu.Lock()
	rv := strconv.FormatInt(s.rv, 10)
	objects := res.current(f)
	if metadata {
		l := partialList(objects, rv)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, l)
		return
	}
	body := listBody{
		TypeMeta: metav1.TypeMeta{Kind: res.kind + "List", APIVersion: "v1"},
		Metadata: metav1.ListMeta{ResourceVersion: rv},
		Items:    []json.RawMessage{},
	}
	for _, o := range objects {
		item := o.DeepCopyObject().(object)
		item.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
		body.Items = append(body.Items, encode(item))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(err))
		return
	}
	writeRaw(w, code, b)
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeStatus answers with a metav1.Status, as the API server does.
func writeStatus(w http.ResponseWriter, err error) {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		se = apierrors.NewInternalError(err)
	}
	st := se.ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	st.Status = metav1.StatusFailure
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, &st)
}

// Compile-time check that core/v1 objects satisfy the store's interface.
var _ object = (*corev1.Pod)(nil)
