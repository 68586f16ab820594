package provider

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// decode returns data decoded from enc (objectEncoding,
// docs/compatibility.md): utf-8 is data as is. Base64 and base64url may be
// padded or not and may have line breaks and surrounding white space, as
// base64 text pasted into a secret often has; hex may have surrounding
// white space. On failure why completes "... is not valid <enc>" and never
// shows any part of data.
func decode(enc class.Encoding, data []byte) (out []byte, why string) {
	switch enc {
	case class.EncodingUTF8:
		return data, ""
	case class.EncodingBase64:
		return decodeBase64(base64.RawStdEncoding, data)
	case class.EncodingBase64URL:
		return decodeBase64(base64.RawURLEncoding, data)
	case class.EncodingHex:
		s := bytes.TrimSpace(data)
		if len(s)%2 != 0 {
			return nil, ": it has an odd number of hex digits"
		}
		out = make([]byte, hex.DecodedLen(len(s)))
		if _, err := hex.Decode(out, s); err != nil {
			return nil, ": it has a character that is not a hex digit (0-9, a-f, A-F)"
		}
		return out, ""
	}
	return nil, fmt.Sprintf(": this provider does not know the encoding %q", string(enc))
}

// decodeBase64 decodes base64 text with enc (an unpadded encoding): line
// breaks (which enc skips), surrounding white space and the padding are
// optional.
func decodeBase64(enc *base64.Encoding, data []byte) ([]byte, string) {
	s := bytes.TrimRight(bytes.TrimSpace(data), "=\r\n")
	out := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	if err != nil {
		return nil, ": base64 uses + and /, base64url - and _; check which one the value is stored in"
	}
	return out[:n], ""
}

// jsonText is v, a value encoding/json decoded or a jmesPath result, as
// compact JSON text: what encoding/json writes (object keys sorted,
// numbers as it writes a float64: 5432, 0.5, 1e+21), except that <, > and
// & are written as they are. It fails only for a number JSON cannot hold
// (an overflow in a function).
func jsonText(v any) ([]byte, bool) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

// fileSource names where a file taken out of a JSON value comes from, for
// its messages: label is the object's, subject the selection's with its
// verb ("jmesPath[1] path \"port\" selects", "jsonKeysAsFiles key
// \"cert\" holds"), enc the encoding of a string, fix what to do about
// null.
type fileSource struct {
	label, subject, fix string
	enc                 class.Encoding
}

// contents is what the file holds (README, jmesPath): a string is its
// value, decoded with src.enc; a number, boolean, object or array is its
// JSON text whatever the encoding (an encoding says how a string is
// stored); null is refused. No message shows any part of v.
func (src fileSource) contents(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, invalidArg("%s: %s null (nothing matched, or the field is null), and only a value can become a file; %s", src.label, src.subject, src.fix)
	case string:
		out, why := decode(src.enc, []byte(v))
		if why != "" {
			return nil, invalidArg("%s: %s a string that is not valid %s (objectEncoding %s)%s; store it in that encoding or change objectEncoding",
				src.label, src.subject, src.enc, src.enc, why)
		}
		return out, nil
	}
	out, ok := jsonText(v)
	if !ok {
		return nil, invalidArg("%s: %s a number JSON cannot write (infinite: a function overflowed); simplify the expression", src.label, src.subject)
	}
	return out, nil
}
