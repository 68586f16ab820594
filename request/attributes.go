package request

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Limits on the Mount request's JSON fields (docs/limits.md), checked
// before they are decoded. The attributes carry the SecretProviderClass's
// parameters, which any tenant writes; the kubelet's own keys and tokens
// take a few KiB. Errors name the field and the limit, never a value: both
// fields hold tokens.
const (
	maxAttributesBytes = 256 << 10
	maxAttributes      = 128
	maxSecretsBytes    = 256 << 10
)

// parseAttributes reads the attributes: a JSON object whose values are all
// strings (the SecretProviderClass parameters and kubelet's volume context).
// The object is read one key at a time, so the count is enforced while
// reading. Errors name the attribute but never quote values, which may hold
// tokens.
func parseAttributes(s string) (map[string]string, error) {
	if len(s) > maxAttributesBytes {
		return nil, failure.New(failure.InvalidArgument,
			"the mount request's attributes are %d bytes, more than the %d KiB allowed; they carry the SecretProviderClass's parameters: shorten objects, or split it into several SecretProviderClasses, each mounted as its own volume",
			len(s), maxAttributesBytes>>10)
	}
	return decodeStrings(s, "attributes", maxAttributes)
}

// parseSecrets reads the request's secrets field: the nodePublishSecretRef
// Secret's data, and on some clusters the service account tokens.
func parseSecrets(s string) (map[string]string, error) {
	secrets := map[string]string{}
	if s == "" {
		return secrets, nil
	}
	if len(s) > maxSecretsBytes {
		return nil, failure.New(failure.InvalidArgument,
			"the mount request's secrets field is %d bytes, more than the %d KiB allowed; it carries the volume's nodePublishSecretRef Secret: keep that Secret small",
			len(s), maxSecretsBytes>>10)
	}
	if err := json.Unmarshal([]byte(s), &secrets); err != nil {
		// Never echo the field: it may hold tokens or Secret data.
		return nil, failure.New(failure.InvalidArgument, "the mount request's secrets field is not a JSON object of strings")
	}
	return secrets, nil
}

// decodeStrings decodes a JSON object of strings with at most most keys.
func decodeStrings(s, field string, most int) (map[string]string, error) {
	bad := func(problem string) error {
		return failure.New(failure.InvalidArgument, "the mount request's %s are not a JSON object of strings: %s", field, problem)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil {
		return nil, bad(syntaxProblem(err))
	} else if tok != json.Delim('{') {
		return nil, bad("it is not an object")
	}
	out := map[string]string{}
	for n := 1; dec.More(); n++ {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(syntaxProblem(err))
		}
		if n > most {
			return nil, failure.New(failure.InvalidArgument,
				"the mount request has more than %d %s; the SecretProviderClass's parameters are among them: remove the parameters it does not use", most, field)
		}
		key, _ := tok.(string)
		var v string
		if err := dec.Decode(&v); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return nil, failure.New(failure.InvalidArgument,
					"the mount request's attribute %s is not a string; SecretProviderClass parameters must be strings (quote the value)", clipKey(key))
			}
			return nil, bad(syntaxProblem(err))
		}
		out[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(syntaxProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("something follows the object")
	}
	return out, nil
}

// syntaxProblem says where decoding failed, never what it read.
func syntaxProblem(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends early"
	}
	return "malformed JSON"
}

// clipKey quotes an attribute name for a message, cut to a readable length:
// names are not secret, but any tenant chooses them.
func clipKey(k string) string {
	const most = 64
	if len(k) > most {
		return strconv.Quote(k[:most]) + "..."
	}
	return strconv.Quote(k)
}

// parsePermission reads the driver's default file mode, a JSON number such
// as 420 (0644).
func parsePermission(p string) (int32, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return 0o644, nil
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil || n < 0 || n > 0o777 {
		return 0, failure.New(failure.InvalidArgument, "the mount request's permission %s is not a file mode between 0 and 511 (0777)", clipKey(p))
	}
	return int32(n), nil
}
