package class

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The object fields of this provider that the reference provider does not
// have (docs/compatibility.md): each changes nothing for a class that does
// not set it.
const (
	keyJSONKeysAsFiles = "jsonkeysasfiles"
	keyOptional        = "optional"
	keyObjectEncoding  = "objectencoding"
)

// Encoding is how a value, or a string a jmesPath entry or a
// jsonKeysAsFiles key selects, is stored: it is decoded before it is
// written. The zero value is utf-8: written as is.
type Encoding string

// The encodings objectEncoding accepts, in any case.
const (
	EncodingUTF8      Encoding = ""
	EncodingBase64    Encoding = "base64"
	EncodingBase64URL Encoding = "base64url"
	EncodingHex       Encoding = "hex"
)

// String is the encoding as a class writes it.
func (e Encoding) String() string {
	if e == EncodingUTF8 {
		return "utf-8"
	}
	return string(e)
}

// encodingNames are the values objectEncoding accepts, lower-cased.
var encodingNames = map[string]Encoding{
	"utf-8":     EncodingUTF8,
	"base64":    EncodingBase64,
	"base64url": EncodingBase64URL,
	"hex":       EncodingHex,
}

// readObjectOptions reads jsonKeysAsFiles, optional and objectEncoding of
// an object entry into o.
func readObjectOptions(label string, f map[string]*yaml.Node, o *Object) (err error) {
	if o.JSONKeysAsFiles, err = boolField(label, "jsonKeysAsFiles", f[keyJSONKeysAsFiles]); err != nil {
		return err
	}
	if o.Optional, err = boolField(label, "optional", f[keyOptional]); err != nil {
		return err
	}
	o.Encoding, err = encodingField(label, "objectEncoding", f[keyObjectEncoding], EncodingUTF8)
	return err
}

// boolField reads a field that is a YAML boolean or the string "true" or
// "false" in any case; absent or null is false. Anything else is refused,
// naming the field: a "yes" or a 1 that meant true must not silently mean
// false.
func boolField(label, field string, n *yaml.Node) (bool, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return false, nil
	}
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!bool" || n.ShortTag() == "!!str") {
		switch strings.ToLower(n.Value) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, invalidArg("%s: %s must be true or false, not %s", label, field, describeNode(n))
}

// encodingField reads an objectEncoding; absent, null or empty is
// inherit.
func encodingField(label, field string, n *yaml.Node, inherit Encoding) (Encoding, error) {
	s, err := stringField(n)
	if err != nil {
		return "", invalidArg("%s: %s %s; use utf-8, base64, base64url or hex", label, field, err)
	}
	if err := checkField(label, field, keyObjectEncoding, s); err != nil {
		return "", err
	}
	if s == "" {
		return inherit, nil
	}
	e, ok := encodingNames[strings.ToLower(s)]
	if !ok {
		return "", invalidArg("%s: %s %s is not an encoding this provider decodes; use utf-8 (the default: written as is), base64, base64url or hex", label, field, short(s))
	}
	return e, nil
}

// ReadsJSON reports whether the object's value is read as JSON: it has
// jmesPath entries or jsonKeysAsFiles.
func (o *Object) ReadsJSON() bool {
	return len(o.JMESPath) > 0 || o.JSONKeysAsFiles
}

// OwnEncoding is the encoding of the object's own file. An object whose
// value is read as JSON writes that JSON as is, and its objectEncoding
// applies to the strings taken out of it (docs/compatibility.md); any
// other object's value is decoded with its objectEncoding.
func (o *Object) OwnEncoding() Encoding {
	if o.ReadsJSON() {
		return EncodingUTF8
	}
	return o.Encoding
}
