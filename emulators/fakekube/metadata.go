package fakekube

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The metadata-only forms the API server answers when the Accept header
// asks for them (as=...;g=meta.k8s.io;v=v1), as client-go's metadata
// client does.
const (
	partialKind     = "PartialObjectMetadata"
	partialListKind = "PartialObjectMetadataList"
)

// acceptedTypes is what a 406 lists, as the API server's does.
var acceptedTypes = strings.Join([]string{
	"application/json",
	"application/json;as=" + partialKind + ";g=meta.k8s.io;v=v1",
	"application/json;as=" + partialListKind + ";g=meta.k8s.io;v=v1",
}, ", ")

// negotiate reads the Accept header of a get, list or watch and reports
// whether the answer is metadata only. The media ranges are tried in
// order (quality factors are ignored): a JSON range without "as" is the
// whole object; one with as=PartialObjectMetadata (get and watch) or
// as=PartialObjectMetadataList (list) of meta.k8s.io/v1 is the metadata;
// anything else (protobuf, Table, another version) is passed over. A
// header with no JSON range at all gets JSON, as before the fake knew
// Accept (it speaks nothing else); one whose JSON ranges all ask for a
// form the fake does not serve is 406 Not Acceptable.
func negotiate(r *http.Request, verb string) (metadata bool, status *apierrors.StatusError) {
	want := partialKind
	if verb == "list" {
		want = partialListKind
	}
	header := r.Header.Get("Accept")
	sawJSON := false
	for _, part := range strings.Split(header, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || !isJSONRange(mediaType) {
			continue
		}
		sawJSON = true
		as, ok := params["as"]
		if !ok {
			return false, nil
		}
		if as == want && params["g"] == metav1.GroupName && params["v"] == "v1" {
			return true, nil
		}
	}
	if !sawJSON {
		return false, nil
	}
	return false, &apierrors.StatusError{ErrStatus: metav1.Status{
		Code: http.StatusNotAcceptable, Reason: metav1.StatusReasonNotAcceptable,
		Message: fmt.Sprintf("only the following media types are accepted: %s", acceptedTypes),
	}}
}

func isJSONRange(mediaType string) bool {
	switch mediaType {
	case "application/json", "application/*", "*/*":
		return true
	}
	return false
}

// encodePartial marshals an object's metadata as a PartialObjectMetadata,
// kind and apiVersion set, as the API server sends it.
func encodePartial(o object) []byte {
	b, err := json.Marshal(asPartial(o))
	if err != nil {
		panic(fmt.Sprintf("fakekube: encoding the metadata of %T: %v", o, err))
	}
	return b
}

func asPartial(o object) *metav1.PartialObjectMetadata {
	p := meta.AsPartialObjectMetadata(o)
	p.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind(partialKind))
	return p
}

// partialList is a PartialObjectMetadataList: unlike a List of the kind,
// its items carry kind and apiVersion (the API server sets them).
func partialList(objects []object, rv string) *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{
		TypeMeta: metav1.TypeMeta{Kind: partialListKind, APIVersion: metav1.SchemeGroupVersion.String()},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Items:    []metav1.PartialObjectMetadata{},
	}
	for _, o := range objects {
		l.Items = append(l.Items, *asPartial(o))
	}
	return l
}

// body is the event's object, whole or as its metadata.
func (e event) body(metadata bool) []byte {
	if metadata {
		return e.meta
	}
	return e.raw
}
