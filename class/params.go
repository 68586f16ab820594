package class

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// The SecretProviderClass keys the parser reads from the Mount attributes,
// listed with their limits in classParams. Every other key
// (csi.storage.k8s.io/*, secretProviderClass, keys a newer reference
// release may add) is ignored, as the reference provider does.
const (
	paramObjects              = "objects"
	paramRegion               = "region"
	paramFailoverRegion       = "failoverRegion"
	paramPathTranslation      = "pathTranslation"
	paramUsePodIdentity       = "usePodIdentity"
	paramPreferredAddressType = "preferredAddressType"
)

// The SecretProviderClass parameters the parser reads, as indexes into
// classParams.
const (
	pObjects = iota
	pRegion
	pFailoverRegion
	pPathTranslation
	pUsePodIdentity
	pPreferredAddressType
)

// classParam is one parameter the parser reads and the longest value it
// accepts, with what to do about a longer one.
type classParam struct {
	name string
	max  int
	hint string
}

// classParams is the one list of parameters the parser reads. Parse
// sees only these values (classValues), and Cache keys its entries by
// a hash of exactly these values: a parameter added here is part of the key
// by construction, and one not added here never reaches the parser.
var classParams = [...]classParam{
	pObjects: {paramObjects, maxObjectsBytes,
		"split the objects into several SecretProviderClasses, each mounted as its own volume"},
	pRegion:         {paramRegion, maxRegionLength, `use a region name such as "us-east-1"`},
	pFailoverRegion: {paramFailoverRegion, maxRegionLength, `use a region name such as "us-west-2"`},
	pPathTranslation: {paramPathTranslation, maxOptionLength,
		`use one character (the replacement for "/" in file names) or "False"`},
	pUsePodIdentity:       {paramUsePodIdentity, maxOptionLength, `use "true" or "false"`},
	pPreferredAddressType: {paramPreferredAddressType, maxOptionLength, `use "ipv4", "ipv6" or "auto"`},
}

// classValues holds the value of each of classParams ("" when absent: the
// parser treats an absent and an empty parameter alike).
type classValues [len(classParams)]string

func readClassValues(attrs map[string]string) classValues {
	var v classValues
	for i, p := range classParams {
		v[i] = attrs[p.name]
	}
	return v
}

// checkLengths refuses a parameter longer than its limit, before anything
// parses it. The message never quotes the value.
func (v *classValues) checkLengths() error {
	for i, p := range classParams {
		if len(v[i]) > p.max {
			return invalidArg("%s is %s long, more than the %s allowed; %s", p.name, failure.Bytes(len(v[i])), failure.Bytes(p.max), p.hint)
		}
	}
	return nil
}

// key is the class cache's key: a SHA-256 of the driver's default mode and
// every value, each prefixed with its length so values cannot run into
// each other. The values are fed through a small buffer rather than
// copied whole.
func (v *classValues) key(defaultMode int32) [sha256.Size]byte {
	h := sha256.New()
	var buf [512]byte
	h.Write(binary.BigEndian.AppendUint32(buf[:0], uint32(defaultMode)))
	for _, s := range v {
		h.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(len(s))))
		for len(s) > 0 {
			n := copy(buf[:], s)
			h.Write(buf[:n])
			s = s[n:]
		}
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// defaultPathTranslation replaces "/" in file names unless the class says
// otherwise; the reference provider's default.
const defaultPathTranslation = "_"

// parsePathTranslation returns the replacement for "/" in file names, "" for
// none. One character means one rune: the reference provider counted bytes
// and so refused "é" (docs/compatibility.md).
func parsePathTranslation(s string) (string, error) {
	switch {
	case s == "":
		return defaultPathTranslation, nil
	case strings.EqualFold(s, "false"):
		return "", nil
	case utf8.RuneCountInString(s) == 1 && utf8.ValidString(s) && s != "\x00":
		return s, nil
	}
	return "", invalidArg("pathTranslation %q must be one character (the replacement for \"/\" in file names, default \"_\") or \"False\" to keep \"/\" as sub-directories", s)
}
