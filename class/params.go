package class

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// The SecretProviderClass keys the parser reads from the Mount attributes
// for the class itself, listed with their limits in classParams; each of
// the catalog's modes adds its own (Mode.Params). Every other key
// (csi.storage.k8s.io/*, secretProviderClass, keys a newer reference
// release may add) is ignored, as the reference provider does.
const (
	paramObjects              = "objects"
	paramRegion               = "region"
	paramFailoverRegion       = "failoverRegion"
	paramPathTranslation      = "pathTranslation"
	paramPreferredAddressType = "preferredAddressType"
	paramAssumeRoleARN        = "assumeRoleArn"
	paramAssumeRoleExternalID = "assumeRoleExternalId"
	paramAssumeRoleDuration   = "assumeRoleDurationSeconds"
	paramTokenAudience        = "tokenAudience"
)

// The class's own parameters, as indexes into classParams and into the
// parser's list, which starts with them.
const (
	pObjects = iota
	pRegion
	pFailoverRegion
	pPathTranslation
	pPreferredAddressType
	pAssumeRoleARN
	pAssumeRoleExternalID
	pAssumeRoleDuration
	pTokenAudience
)

// Param is one parameter the parser reads: its name, the longest value it
// accepts (checked before anything parses it) and what to do about a
// longer one.
type Param struct {
	Name string
	Max  int
	Hint string
}

// classParams are the parameters of the class itself.
var classParams = [...]Param{
	pObjects: {paramObjects, maxObjectsBytes,
		"split the objects into several SecretProviderClasses, each mounted as its own volume"},
	pRegion:         {paramRegion, maxRegionLength, `use a region name such as "us-east-1"`},
	pFailoverRegion: {paramFailoverRegion, maxRegionLength, `use a region name such as "us-west-2"`},
	pPathTranslation: {paramPathTranslation, MaxOptionLength,
		`use one character (the replacement for "/" in file names) or "False"`},
	pPreferredAddressType: {paramPreferredAddressType, MaxOptionLength, `use "ipv4", "ipv6" or "auto"`},
	pAssumeRoleARN:        {paramAssumeRoleARN, maxRoleARNLength, "use an IAM role ARN such as arn:aws:iam::111122223333:role/name"},
	pAssumeRoleExternalID: {paramAssumeRoleExternalID, maxExternalIDLength, "use the external ID the role's trust policy requires"},
	pAssumeRoleDuration:   {paramAssumeRoleDuration, MaxOptionLength, "use a number of seconds from 900 to 43200"},
	pTokenAudience:        {paramTokenAudience, maxAudienceLength, "use the audience your cluster's OIDC provider is registered with in IAM"},
}

// paramList is the one list of parameters a parser reads: classParams,
// then each mode's. The parser sees only these values (classValues), and
// the Cache keys its entries by a hash of exactly these values: a
// parameter added here is part of the key by construction, and one not
// added here never reaches the parser.
type paramList []Param

// newParamList lists classParams and modes' parameters, each name once.
func newParamList(modes []Mode) (paramList, error) {
	l := paramList(classParams[:])
	for _, m := range modes {
		for _, p := range m.Params() {
			if l.index(p.Name) >= 0 || p.Max <= 0 {
				return nil, failure.New(failure.Internal, "the class catalog's mode %s reads parameter %q, which another reads too or which has no limit", m.Name(), p.Name)
			}
			l = append(l, p)
		}
	}
	return l, nil
}

// index is the position of the parameter named name, -1 when none.
func (l paramList) index(name string) int {
	for i, p := range l {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// classValues holds the value of each parameter of a paramList ("" when
// absent: the parser treats an absent and an empty parameter alike).
type classValues []string

func (l paramList) read(attrs map[string]string) classValues {
	v := make(classValues, len(l))
	for i, p := range l {
		v[i] = attrs[p.Name]
	}
	return v
}

// value returns the value of the parameter named name.
func (l paramList) value(v classValues, name string) string {
	if i := l.index(name); i >= 0 {
		return v[i]
	}
	return ""
}

// checkLengths refuses a parameter longer than its limit, before anything
// parses it. The message never quotes the value.
func (l paramList) checkLengths(v classValues) error {
	for i, p := range l {
		if len(v[i]) > p.Max {
			return invalidArg("%s is %s long, more than the %s allowed; %s", p.Name, failure.Bytes(len(v[i])), failure.Bytes(p.Max), p.Hint)
		}
	}
	return nil
}

// key is the class cache's key: a SHA-256 of the driver's default mode and
// every value, each prefixed with its length so values cannot run into
// each other. The values are fed through a small buffer rather than
// copied whole.
func (v classValues) key(defaultMode int32) [sha256.Size]byte {
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
