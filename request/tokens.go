package request

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
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
// with serviceAccountTokenInSecrets). No tokens at all is an empty map, not
// an error: whether one is needed depends on the auth mode.
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
			where, AttrTokens, JSONProblem(err))
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

// JSONProblem describes a JSON error without quoting the input.
func JSONProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("a JSON %s where a %s was expected at byte %d", e.Value, e.Type, e.Offset)
	default:
		return "malformed JSON"
	}
}
