package auth

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

// checkNames refuses (InvalidArgument) a namespace that is not a DNS-1123
// label, a ServiceAccount name that is not a DNS-1123 subdomain, and a pod
// name or UID longer than Kubernetes allows. These strings become parts of
// cache keys and log lines, so they are checked before any use; an empty
// pod name or UID passes (whether one is needed depends on the scope and
// the region lookup). Errors name the attribute and quote at most
// maxQuoted bytes of the value.
func checkNames(r Request) error {
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
	if len(r.PodName) > maxPodName {
		return tooLong(AttrPodName, "a pod name", r.PodName, maxPodName)
	}
	if len(r.PodUID) > maxPodUID {
		return tooLong(AttrPodUID, "a pod UID", r.PodUID, maxPodUID)
	}
	return nil
}

func tooLong(attr, what, value string, max int) error {
	return failure.New(failure.InvalidArgument,
		"the mount request's %s %s is %d bytes long; %s has at most %d",
		attr, quotePrefix(value), len(value), what, max)
}

func notAName(attr, what, value string, problems []string) error {
	return failure.New(failure.InvalidArgument, "the mount request's %s %s is not %s: %s",
		attr, quotePrefix(value), what, strings.Join(problems, "; "))
}

// quotePrefix quotes s, or only its first maxQuoted bytes (cut at a rune
// boundary) followed by "...".
func quotePrefix(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := s[:maxQuoted]
	for len(cut) > 0 && !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return fmt.Sprintf("%q...", cut)
}
