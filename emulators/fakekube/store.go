package fakekube

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// historyLimit bounds the watch history, so a long benchmark does not grow
// the process it measures; a watch from before it gets 410 Expired and
// client-go relists, as after an etcd compaction.
const historyLimit = 10000

// watchBuffer is how many events a slow watcher may lag before its stream
// is ended (the client re-watches from its last resourceVersion).
const watchBuffer = 256

// object is what the store holds: a typed core/v1 object.
type object interface {
	metav1.Object
	runtime.Object
}

// resource describes one served resource and holds its objects.
type resource struct {
	name       string // plural, as in URLs: "serviceaccounts"
	kind       string // "ServiceAccount"
	singular   string
	shortNames []string
	namespaced bool
	// fields returns the field-selector fields of an object.
	fields  func(object) fields.Set
	objects map[string]object // by namespace/name; immutable once stored
}

func newResources() map[string]*resource {
	meta := func(o object) fields.Set {
		s := fields.Set{"metadata.name": o.GetName()}
		if o.GetNamespace() != "" {
			s["metadata.namespace"] = o.GetNamespace()
		}
		return s
	}
	rs := []*resource{
		{name: "serviceaccounts", kind: "ServiceAccount", singular: "serviceaccount", shortNames: []string{"sa"},
			namespaced: true, fields: meta},
		{name: "nodes", kind: "Node", singular: "node", shortNames: []string{"no"}, fields: meta},
		{name: "pods", kind: "Pod", singular: "pod", shortNames: []string{"po"}, namespaced: true,
			fields: func(o object) fields.Set {
				s := meta(o)
				if p, ok := o.(*corev1.Pod); ok {
					s["spec.nodeName"] = p.Spec.NodeName
					s["spec.serviceAccountName"] = p.Spec.ServiceAccountName
				}
				return s
			}},
	}
	out := map[string]*resource{}
	for _, r := range rs {
		r.objects = map[string]object{}
		out[r.name] = r
	}
	return out
}

// fieldAllowed reports whether a field selector may name field.
func (r *resource) fieldAllowed(field string) bool {
	switch field {
	case "metadata.name", "metadata.namespace":
		return true
	case "spec.nodeName", "spec.serviceAccountName":
		return r.name == "pods"
	}
	return false
}

func key(namespace, name string) string { return namespace + "/" + name }

// event is one change, encoded once when it happens.
type event struct {
	rv        int64
	resource  string
	typ       watch.EventType
	namespace string
	labels    labels.Set
	fields    fields.Set
	raw       []byte // the object's JSON, kind and apiVersion set
	meta      []byte // its PartialObjectMetadata, for metadata-only watches
}

// filter is what a list or watch asked for.
type filter struct {
	namespace string // "" = every namespace
	fields    fields.Selector
	labels    labels.Selector
}

func (f filter) matches(namespace string, ls labels.Set, fs fields.Set) bool {
	if f.namespace != "" && namespace != f.namespace {
		return false
	}
	return f.labels.Matches(ls) && f.fields.Matches(fs)
}

// watcher is one open watch stream. The publisher closes ch when the
// watcher lags more than watchBuffer events.
type watcher struct {
	resource string
	filter   filter
	metadata bool // send PartialObjectMetadata, not the objects
	ch       chan event
}

// encode marshals a stored object with kind and apiVersion set.
func encode(o object) []byte {
	b, err := json.Marshal(o)
	if err != nil {
		// core/v1 types always marshal; a failure here is a bug in the fake.
		panic(fmt.Sprintf("fakekube: encoding %T: %v", o, err))
	}
	return b
}

// put stores o (creating or replacing) and publishes the change. Caller
// holds s.mu.
func (s *Server) put(res string, o object) {
	r := s.resources[res]
	k := key(o.GetNamespace(), o.GetName())
	typ := watch.Added
	if old, ok := r.objects[k]; ok {
		typ = watch.Modified
		o.SetUID(old.GetUID())
		o.SetCreationTimestamp(old.GetCreationTimestamp())
	} else {
		s.uidSeq++
		o.SetUID(types.UID(newUID(s.uidSeq)))
		o.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	}
	o.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(r.kind))
	s.rv++
	o.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	r.objects[k] = o
	s.publish(r, typ, o)
}

// remove deletes an object and publishes DELETED. Caller holds s.mu.
func (s *Server) remove(res, namespace, name string) bool {
	r := s.resources[res]
	k := key(namespace, name)
	old, ok := r.objects[k]
	if !ok {
		return false
	}
	delete(r.objects, k)
	gone := old.DeepCopyObject().(object)
	s.rv++
	gone.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	s.publish(r, watch.Deleted, gone)
	return true
}

// publish records an event and hands it to every matching watcher. Caller
// holds s.mu.
func (s *Server) publish(r *resource, typ watch.EventType, o object) {
	ev := event{
		rv: s.rv, resource: r.name, typ: typ, namespace: o.GetNamespace(),
		labels: labels.Set(maps.Clone(o.GetLabels())), fields: r.fields(o), raw: encode(o), meta: encodePartial(o),
	}
	if len(s.history) >= historyLimit {
		drop := len(s.history) - historyLimit/2
		s.compacted = s.history[drop-1].rv
		s.history = slices.Delete(s.history, 0, drop)
	}
	s.history = append(s.history, ev)
	for w := range s.watchers {
		if w.resource != ev.resource || !w.filter.matches(ev.namespace, ev.labels, ev.fields) {
			continue
		}
		select {
		case w.ch <- ev:
		default:
			close(w.ch)
			delete(s.watchers, w)
		}
	}
}

// current returns the stored objects of r that match f, sorted by
// namespace/name. Caller holds s.mu.
func (r *resource) current(f filter) []object {
	var out []object
	for _, k := range slices.Sorted(maps.Keys(r.objects)) {
		o := r.objects[k]
		if f.matches(o.GetNamespace(), labels.Set(o.GetLabels()), r.fields(o)) {
			out = append(out, o)
		}
	}
	return out
}

// newUID makes a stable, well-formed UID from a sequence number.
func newUID(n int64) string {
	return fmt.Sprintf("fa4e0000-0000-4000-8000-%012x", n)
}

// ServiceAccount and friends: the Go API that tests and the demo use.

// AddServiceAccount creates the ServiceAccount namespace/name with these
// annotations, or replaces the annotations of an existing one (a MODIFIED
// event then).
func (s *Server) AddServiceAccount(namespace, name string, annotations map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put("serviceaccounts", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Annotations: maps.Clone(annotations),
	}})
}

// UpdateServiceAccount replaces the annotations of an existing
// ServiceAccount; it fails if there is none.
func (s *Server) UpdateServiceAccount(namespace, name string, annotations map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.resources["serviceaccounts"].objects[key(namespace, name)]
	if !ok {
		return fmt.Errorf("fakekube: serviceaccount %s/%s does not exist; add it first", namespace, name)
	}
	sa := old.DeepCopyObject().(*corev1.ServiceAccount)
	sa.Annotations = maps.Clone(annotations)
	s.put("serviceaccounts", sa)
	return nil
}

// DeleteServiceAccount removes a ServiceAccount and reports whether it
// existed.
func (s *Server) DeleteServiceAccount(namespace, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remove("serviceaccounts", namespace, name)
}

// AddNode creates the Node name with these labels, or replaces the labels
// of an existing one.
func (s *Server) AddNode(name string, labels map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put("nodes", &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: maps.Clone(labels)},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		}}},
	})
}

// DeleteNode removes a Node and reports whether it existed.
func (s *Server) DeleteNode(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remove("nodes", "", name)
}

// AddPod creates (or replaces) a running Pod scheduled on nodeName that
// runs as serviceAccount.
func (s *Server) AddPod(namespace, name, nodeName, serviceAccount string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put("pods", &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{
			NodeName: nodeName, ServiceAccountName: serviceAccount,
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	})
}

// PodUID is the UID the server gave a Pod ("" when there is none).
func (s *Server) PodUID(namespace, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.resources["pods"].objects[key(namespace, name)]; ok {
		return string(o.GetUID())
	}
	return ""
}

// DeletePod removes a Pod and reports whether it existed.
func (s *Server) DeletePod(namespace, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remove("pods", namespace, name)
}

// Compact forgets the watch history, as etcd compaction does: a watch from
// any earlier resourceVersion then gets 410 Expired and client-go relists.
func (s *Server) Compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compacted = s.rv
	s.history = nil
}
