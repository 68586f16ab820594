package request

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Bounds on the pod's name and UID as the request states them. A pod name
// is a DNS-1123 subdomain (at most 253 characters); a pod UID is a UUID (36
// characters), given room for other spellings.
const (
	maxPodName = validation.DNS1123SubdomainMaxLength
	maxPodUID  = 128
	// maxQuoted is how much of a refused value an error may quote: enough
	// to recognise a typo, never a whole token pasted into an attribute.
	maxQuoted = 40
)

// Attribute keys kubelet sends in the volume attributes (the CSIDriver's
// podInfoOnMount and tokenRequests).
const (
	AttrPodName        = "csi.storage.k8s.io/pod.name"
	AttrPodNamespace   = "csi.storage.k8s.io/pod.namespace"
	AttrPodUID         = "csi.storage.k8s.io/pod.uid"
	AttrServiceAccount = "csi.storage.k8s.io/serviceAccount.name"
	AttrTokens         = "csi.storage.k8s.io/serviceAccount.tokens"
	// AttrClass names the SecretProviderClass (for logs only).
	AttrClass = "secretProviderClass"
)

// Pod is who mounts: the pod and the ServiceAccount it runs as, as kubelet
// states them, checked before any of it is used.
type Pod struct {
	Namespace, Name, UID, ServiceAccount string
}

// String is "namespace/name", for messages and logs.
func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// podFrom reads the pod from the attributes. The namespace and the
// ServiceAccount are required (the CSIDriver's podInfoOnMount sends them).
func podFrom(attrs map[string]string) (Pod, error) {
	p := Pod{
		Namespace:      attrs[AttrPodNamespace],
		ServiceAccount: attrs[AttrServiceAccount],
		Name:           attrs[AttrPodName],
		UID:            attrs[AttrPodUID],
	}
	for _, attr := range []string{AttrPodNamespace, AttrServiceAccount} {
		if attrs[attr] == "" {
			return Pod{}, failure.New(failure.InvalidArgument,
				"the mount request has no %s attribute; the CSIDriver secrets-store.csi.k8s.io must have podInfoOnMount: true", attr)
		}
	}
	return p, CheckPod(p)
}

// CheckPod refuses (InvalidArgument) a namespace that is not a DNS-1123
// label, a ServiceAccount name that is not a DNS-1123 subdomain, and a pod
// name or UID longer than Kubernetes allows. These strings become parts of
// cache keys and log lines, so they are checked before any use; an empty
// pod name or UID passes (whether one is needed depends on the scope and
// the region lookup). Errors name the attribute and quote at most
// maxQuoted bytes of the value. Parse checks every request; package auth
// checks again what becomes a cache key, whoever built the Mount.
func CheckPod(r Pod) error {
	if len(r.Namespace) > validation.DNS1123LabelMaxLength {
		return tooLong(AttrPodNamespace, "a namespace name", r.Namespace, validation.DNS1123LabelMaxLength)
	}
	if errs := validation.IsDNS1123Label(r.Namespace); len(errs) > 0 {
		return notAName(AttrPodNamespace, "a Kubernetes namespace name", r.Namespace, errs)
	}
	if len(r.ServiceAccount) > validation.DNS1123SubdomainMaxLength {
		return tooLong(AttrServiceAccount, "a ServiceAccount name", r.ServiceAccount, validation.DNS1123SubdomainMaxLength)
	}
	if errs := validation.IsDNS1123Subdomain(r.ServiceAccount); len(errs) > 0 {
		return notAName(AttrServiceAccount, "a Kubernetes ServiceAccount name", r.ServiceAccount, errs)
	}
	if len(r.Name) > maxPodName {
		return tooLong(AttrPodName, "a pod name", r.Name, maxPodName)
	}
	if len(r.UID) > maxPodUID {
		return tooLong(AttrPodUID, "a pod UID", r.UID, maxPodUID)
	}
	return nil
}

func tooLong(attr, what, value string, max int) error {
	return failure.New(failure.InvalidArgument,
		"the mount request's %s %s is %d bytes long; %s has at most %d",
		attr, Quote(value), len(value), what, max)
}

func notAName(attr, what, value string, problems []string) error {
	return failure.New(failure.InvalidArgument, "the mount request's %s %s is not %s: %s",
		attr, Quote(value), what, strings.Join(problems, "; "))
}

// Quote quotes s, or only its first 40 bytes (cut at a rune boundary)
// followed by "...": for messages about values a request or a token
// states, which must never carry a whole token pasted into the wrong place.
func Quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := s[:maxQuoted]
	for len(cut) > 0 && !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return fmt.Sprintf("%q...", cut)
}
