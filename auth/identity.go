package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// Mode is how a pod's identity becomes AWS credentials: the auth mode a
// parsed class carries (class.AuthMode), one of the modes table's
// (modes.go).
type Mode = class.AuthMode

const (
	// ModeIRSA is IAM Roles for Service Accounts: STS
	// AssumeRoleWithWebIdentity with the role named by the ServiceAccount's
	// eks.amazonaws.com/role-arn annotation.
	ModeIRSA Mode = "irsa"
	// ModePodIdentity is EKS Pod Identity: the node's agent exchanges the
	// token for the credentials of the ServiceAccount's association.
	ModePodIdentity Mode = "pod-identity"
)

// Identity is who a Mount acts as.
type Identity struct {
	Mode           Mode
	Namespace      string
	ServiceAccount string
	// RoleARN is the ServiceAccount's role (IRSA only).
	RoleARN string
	Region  string
	// PodName and PodUID name the pod that asked; PodUID is part of Key
	// only with PerPod.
	PodName, PodUID string
	// PerPod scopes Key to the pod (the resolver's ScopePod): set by
	// Credentials from its options, never from a request.
	PerPod bool
	// AssumeRoleARN is the class's cross-account role ("" for none): the
	// identity's credentials are then those assumed into it with the pod's
	// own, and its key says so.
	AssumeRoleARN string
	// externalID is the class's assumeRoleExternalId. Only its hash enters
	// the key; it is never logged.
	externalID string
}

// base is the pod's own identity, before any cross-account hop.
func (i Identity) base() Identity {
	i.AssumeRoleARN, i.externalID = "", ""
	return i
}

// exchange names the exchange that yields i's credentials, for the
// observer: its mode's, or the hop into a cross-account role.
func (i Identity) exchange() string {
	if i.AssumeRoleARN != "" {
		return ExchangeAssumeRole
	}
	return string(i.Mode)
}

// Key is the cache key for credentials and values read with them: mode,
// namespace, ServiceAccount, role ARN (IRSA) and region, plus the pod UID
// when PerPod. By default every pod running as the same ServiceAccount with
// the same role shares one entry. A change of the role annotation gives a
// new key, so credentials of the old role are never served again: with the
// daemon's Roles (package kube's informers) that holds from the moment the
// watch delivers the change.
//
// Caveat (docs/design.md, invariant 2): by default (ScopeIdentity) the pod's name
// and UID are not part of the key. The credentials cached for a key were
// obtained with the token of the first pod that asked, so:
//   - with Pod Identity they carry that pod's session tags
//     (kubernetes-pod-name, kubernetes-pod-uid);
//   - with IRSA their role session name names that pod (see sessionName).
//
// An IAM policy whose conditions distinguish pods of one ServiceAccount
// (aws:PrincipalTag/kubernetes-pod-name, a session-name pattern) is therefore
// evaluated against that first pod for every pod of the ServiceAccount.
// Conditions on the namespace, ServiceAccount, cluster or role are
// unaffected. Clusters that rely on per-pod conditions set the per-pod
// scope (ScopePod, --cache-scope=pod): PerPod adds the pod UID to the key,
// so each pod gets credentials obtained with its own token and values read
// with them, at the cost of one STS or agent call per pod per credential
// lifetime and one value read per pod per cache TTL.
//
// Pod Identity: the association is named by namespace and ServiceAccount; if
// it is changed to another role, the old role's cached credentials are
// served until the cache refreshes them (from about three quarters of their
// lifetime on).
func (i Identity) Key() string {
	// No component can contain "|": namespaces and ServiceAccount names are
	// DNS names (checkNames, run by RequestFromAttributes and by Resolve),
	// role ARNs are checked by checkRoleARN and regions by the caller before
	// use; pod UIDs by the resolver (never empty, no "|"). A
	// per-pod key has one more component, so it never equals a shared one.
	parts := []string{string(i.Mode), i.Namespace, i.ServiceAccount, i.RoleARN, i.Region}
	if i.PerPod {
		parts = append(parts, "pod:"+i.PodUID)
	}
	if i.AssumeRoleARN != "" {
		// Chained credentials are the pod identity's own hop: another
		// identity naming the same role never shares them (the base parts
		// above differ), nor does another external ID.
		sum := sha256.Sum256([]byte(i.externalID))
		parts = append(parts, "assume:"+i.AssumeRoleARN, "ext:"+hex.EncodeToString(sum[:8]))
	}
	return strings.Join(parts, "|")
}
