package auth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Attribute keys kubelet sends in the volume attributes (SPEC section 1).
const (
	AttrPodName        = "csi.storage.k8s.io/pod.name"
	AttrPodNamespace   = "csi.storage.k8s.io/pod.namespace"
	AttrPodUID         = "csi.storage.k8s.io/pod.uid"
	AttrServiceAccount = "csi.storage.k8s.io/serviceAccount.name"
	AttrTokens         = "csi.storage.k8s.io/serviceAccount.tokens"
)

// Token audiences: the CSIDriver object's tokenRequests must ask for the one
// of the mode in use.
const (
	AudienceSTS         = "sts.amazonaws.com"
	AudiencePodIdentity = "pods.eks.amazonaws.com"
)

// Token is one service-account token kubelet requested for the pod.
type Token struct {
	// Token is the JWT. Never log it, never put it in an error.
	Token string
	// Expiration is kubelet's expirationTimestamp (zero when absent).
	Expiration time.Time
}

// ParseTokens reads the service-account tokens, keyed by audience, from the
// attributes, or from the secrets when the attributes lack them (a CSIDriver
// with serviceAccountTokenInSecrets). No tokens at all is an empty map, not an
// error: whether one is needed depends on the mode.
func ParseTokens(attrs map[string]string, secrets map[string]string) (map[string]Token, error) {
	raw, ok := attrs[AttrTokens]
	where := "attribute"
	if !ok || raw == "" {
		raw, ok = secrets[AttrTokens]
		where = "secret"
	}
	if !ok || raw == "" {
		return map[string]Token{}, nil
	}
	var wire map[string]struct {
		Token               string `json:"token"`
		ExpirationTimestamp string `json:"expirationTimestamp"`
	}
	if err := json.Unmarshal([]byte(raw), &wire); err != nil {
		// Describe the problem without quoting the input: it holds tokens.
		return nil, failure.New(failure.InvalidArgument,
			"the mount request's %s %s is not a JSON object of {token, expirationTimestamp} keyed by audience (%s)",
			where, AttrTokens, jsonProblem(err))
	}
	out := make(map[string]Token, len(wire))
	for aud, w := range wire {
		if w.Token == "" {
			return nil, failure.New(failure.InvalidArgument,
				"the mount request's %s %s has no token for audience %q", where, AttrTokens, aud)
		}
		t := Token{Token: w.Token}
		if w.ExpirationTimestamp != "" {
			exp, err := time.Parse(time.RFC3339, w.ExpirationTimestamp)
			if err != nil {
				return nil, failure.New(failure.InvalidArgument,
					"the mount request's %s %s: the expirationTimestamp for audience %q is not an RFC 3339 time",
					where, AttrTokens, aud)
			}
			t.Expiration = exp
		}
		out[aud] = t
	}
	return out, nil
}

// jsonProblem describes a JSON error without quoting the input.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("a JSON %s where a %s was expected at byte %d", e.Value, e.Type, e.Offset)
	default:
		return "malformed JSON"
	}
}

// claims are the JWT payload fields CheckToken reads.
type claims struct {
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   *float64        `json:"exp"`
	// Kubernetes is the private claim of a bound token; Pod is set when
	// the token is bound to a pod (kubelet's TokenRequest for a volume).
	Kubernetes *struct {
		Pod *struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
	} `json:"kubernetes.io"`
}

// CheckToken refuses (failure.Unauthenticated) a token that is expired (by
// its exp claim or kubelet's expirationTimestamp), whose subject is not
// system:serviceaccount:<namespace>:<serviceAccount>, or whose audiences do
// not include audience.
//
// It decodes the JWT payload WITHOUT verifying the signature: AWS verifies it
// on every STS or agent call. What it prevents is a request being answered
// from the credential cache with an identity its own token does not carry
// (attributes and token that disagree, a token for another audience, a stale
// token). The requests themselves come from the driver over a root-only
// socket; a forged token naming the pod's own ServiceAccount gains nothing
// the pod does not already have.
func CheckToken(tok Token, audience, namespace, serviceAccount string, now time.Time) error {
	_, err := checkToken(tok, audience, namespace, serviceAccount, now)
	return err
}

// checkToken is CheckToken, returning the claims it read.
func checkToken(tok Token, audience, namespace, serviceAccount string, now time.Time) (claims, error) {
	who := namespace + "/" + serviceAccount
	if !tok.Expiration.IsZero() && !now.Before(tok.Expiration) {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s expired at %s; kubelet sends a fresh one on the next republish",
			audience, who, tok.Expiration.UTC().Format(time.RFC3339))
	}
	c, err := decodeClaims(tok.Token)
	if err != nil {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s is not a valid JWT: %s", audience, who, err)
	}
	if c.Expiry == nil {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s has no exp claim", audience, who)
	}
	exp := unixFloat(*c.Expiry)
	if !now.Before(exp) {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s expired at %s; kubelet sends a fresh one on the next republish",
			audience, who, exp.UTC().Format(time.RFC3339))
	}
	want := "system:serviceaccount:" + namespace + ":" + serviceAccount
	if c.Subject != want {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token for audience %q names subject %q, but the pod runs as %q; refusing to use it",
			audience, c.Subject, want)
	}
	auds, err := audiences(c.Audience)
	if err != nil {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s is not a valid JWT: %s", audience, who, err)
	}
	if !slices.Contains(auds, audience) {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token sent for audience %q of ServiceAccount %s is for audiences %q instead",
			audience, who, auds)
	}
	return c, nil
}

// checkPodClaim refuses (failure.Unauthenticated) a token that is not bound
// to the request's pod: without a kubernetes.io pod claim, or whose claim
// names another pod name or UID. The per-pod scope keys credentials by the
// request's pod UID, so the token must prove that pod, not only its
// ServiceAccount.
func checkPodClaim(c claims, audience string, r Request) error {
	if c.Kubernetes == nil || c.Kubernetes.Pod == nil {
		return failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s/%s is not bound to a pod (it has no kubernetes.io pod claim); "+
				"the per-pod cache scope (--cache-scope=pod) needs pod-bound tokens, as kubelet's TokenRequest for CSI drivers makes",
			audience, r.Namespace, r.ServiceAccount)
	}
	p := c.Kubernetes.Pod
	if p.Name != r.PodName || p.UID != r.PodUID {
		return failure.New(failure.Unauthenticated,
			"the service account token for audience %q is bound to pod %s (uid %s), but the request is for pod %s/%s (uid %s); refusing to use it",
			audience, quotePrefix(p.Name), quotePrefix(p.UID), r.Namespace, quotePrefix(r.PodName), quotePrefix(r.PodUID))
	}
	return nil
}

// decodeClaims reads the payload of a compact JWS. Its errors never quote
// the token.
func decodeClaims(jwt string) (claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims{}, fmt.Errorf("it has %d dot-separated parts instead of 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims{}, fmt.Errorf("its payload is not base64url")
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return claims{}, fmt.Errorf("its payload is not a JSON object of claims (%s)", jsonProblem(err))
	}
	return c, nil
}

// audiences reads the aud claim: a string or an array of strings.
func audiences(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("its aud claim is neither a string nor a list of strings")
	}
	return many, nil
}

// unixFloat converts a JWT NumericDate (seconds, possibly fractional).
func unixFloat(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9))
}
