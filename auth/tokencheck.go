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
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// Token audiences: the CSIDriver object's tokenRequests must ask for the one
// of the mode in use (the modes table, modes.go).
const (
	AudienceSTS         = "sts.amazonaws.com"
	AudiencePodIdentity = "pods.eks.amazonaws.com"
)

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
func CheckToken(tok request.Token, audience, namespace, serviceAccount string, now time.Time) error {
	_, err := checkToken(tok, audience, namespace, serviceAccount, now)
	return err
}

// checkToken is CheckToken, returning the claims it read.
func checkToken(tok request.Token, audience, namespace, serviceAccount string, now time.Time) (claims, error) {
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
			"the service account token for audience %q names subject %s, but the pod runs as %q; refusing to use it",
			audience, request.Quote(c.Subject), want)
	}
	auds, err := audiences(c.Audience)
	if err != nil {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s is not a valid JWT: %s", audience, who, err)
	}
	if !slices.Contains(auds, audience) {
		return claims{}, failure.New(failure.Unauthenticated,
			"the service account token sent for audience %q of ServiceAccount %s is for audiences %s instead",
			audience, who, quoteAudiences(auds))
	}
	return c, nil
}

// checkPodClaim refuses (failure.Unauthenticated) a token that is not bound
// to the request's pod: without a kubernetes.io pod claim, or whose claim
// names another pod name or UID. The per-pod scope keys credentials by the
// request's pod UID, so the token must prove that pod, not only its
// ServiceAccount.
func checkPodClaim(c claims, audience string, r request.Pod) error {
	if c.Kubernetes == nil || c.Kubernetes.Pod == nil {
		return failure.New(failure.Unauthenticated,
			"the service account token for audience %q of ServiceAccount %s/%s is not bound to a pod (it has no kubernetes.io pod claim); "+
				"the per-pod cache scope (--cache-scope=pod) needs pod-bound tokens, as kubelet's TokenRequest for CSI drivers makes",
			audience, r.Namespace, r.ServiceAccount)
	}
	p := c.Kubernetes.Pod
	if p.Name != r.Name || p.UID != r.UID {
		return failure.New(failure.Unauthenticated,
			"the service account token for audience %q is bound to pod %s (uid %s), but the request is for pod %s/%s (uid %s); refusing to use it",
			audience, request.Quote(p.Name), request.Quote(p.UID), r.Namespace, request.Quote(r.Name), request.Quote(r.UID))
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
		return claims{}, fmt.Errorf("its payload is not a JSON object of claims (%s)", request.JSONProblem(err))
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

// quoteAudiences quotes at most a few audiences, each bounded: the claim
// comes from a token, and a forged one could be huge.
func quoteAudiences(auds []string) string {
	const most = 4
	out := make([]string, 0, most+1)
	for i, a := range auds {
		if i == most {
			out = append(out, fmt.Sprintf("and %d more", len(auds)-most))
			break
		}
		out = append(out, request.Quote(a))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// unixFloat converts a JWT NumericDate (seconds, possibly fractional).
func unixFloat(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9))
}
