package provider

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// Limits on what a SecretProviderClass controls (docs/limits.md lists each
// with its message and reason). Whoever may create a class in a namespace
// is untrusted, and the daemon serves every pod of its node: each limit
// bounds the memory or time one class can cost it, and is checked before
// the work it bounds.
const (
	// maxObjectsBytes bounds the objects parameter, checked before YAML
	// parsing (parsing costs about 70 bytes of memory per byte of text).
	maxObjectsBytes = 64 << 10
	// maxObjects bounds the entries of objects, checked before any is read.
	maxObjects = 100
	// maxJMESPathEntries bounds one object's jmesPath entries.
	maxJMESPathEntries = 100
	// maxFiles bounds the files of a class: its objects and all their
	// jmesPath entries.
	maxFiles = 1000
	// maxYAMLKeys bounds the mappings and keys the parser reads in a whole
	// class, aliases and merge keys followed each time: an alias repeats
	// a mapping at the cost of a few bytes.
	maxYAMLKeys = 10_000
	// maxOptionLength bounds the parameters that take a word
	// (pathTranslation, usePodIdentity, preferredAddressType).
	maxOptionLength = 64
	// maxRegionLength bounds region names; the longest today is 14.
	maxRegionLength = 32
)

// The longest value of each string field of an object, from what AWS
// accepts: an ARN is at most 2048 characters, a Secrets Manager VersionId
// 64 and a VersionStage 256 (an SSM version is a number, an SSM label at
// most 100); objectType's values are short words. objectAlias is a file
// path, bounded like the driver bounds paths.
var fieldLimits = map[string]int{
	keyObjectName:         2048,
	keyObjectType:         maxOptionLength,
	keyObjectAlias:        maxPathLength,
	keyObjectVersion:      64,
	keyObjectVersionLabel: 256,
	keyPath:               jmes.MaxExprBytes,
}

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

// classParams is the one list of parameters the parser reads. ParseClass
// sees only these values (classValues), and ClassCache keys its entries by
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

// parseState is what parsing one class keeps across its objects: the
// budgets that bound the whole class and the paths compiled so far.
type parseState struct {
	// files counts the files the class writes: every object, and the
	// jmesPath entries read so far.
	files int
	// yamlKeys counts the mappings and keys read so far.
	yamlKeys int
	// exprs keeps each distinct path compiled once: aliases can repeat a
	// path many times at the cost of a few bytes.
	exprs map[string]*jmes.Expr
}

// checkField refuses a field longer than fieldLimits allows; the message
// names the field, never its value.
func checkField(label, field, key, s string) error {
	if m, ok := fieldLimits[key]; ok && len(s) > m {
		return invalidArg("%s: %s is %d bytes long, more than the %d allowed; shorten it", label, field, len(s), m)
	}
	return nil
}

// checkObjectCount refuses more objects than a class may list, before any
// entry is read.
func checkObjectCount(n int) error {
	if n > maxObjects {
		return invalidArg("objects lists %d entries, more than the %d allowed in one SecretProviderClass; split them into several SecretProviderClasses, each mounted as its own volume",
			n, maxObjects)
	}
	return nil
}

// addJMESPathFiles counts an object's jmesPath entries before they are
// read, against the object's limit and the class's.
func (st *parseState) addJMESPathFiles(label string, n int) error {
	if n > maxJMESPathEntries {
		return invalidArg("%s: jmesPath lists %d entries, more than the %d allowed for one object; move some to another object entry that reads the same secret with a distinct objectAlias",
			label, n, maxJMESPathEntries)
	}
	st.files += n
	if st.files > maxFiles {
		return invalidArg("%s: with its jmesPath entries the SecretProviderClass writes more than %d files, the most one may write; split the objects into several SecretProviderClasses, each mounted as its own volume",
			label, maxFiles)
	}
	return nil
}

// yamlBudgetError is the error when a class reads more than maxYAMLKeys.
func yamlBudgetError() error {
	return fmt.Errorf("the objects YAML expands to more than %d mappings and keys once its aliases (*name) and merge keys (<<) are followed; write the entries out instead of repeating them through aliases",
		maxYAMLKeys)
}

// clip cuts a class field to a readable length for a message.
func clip(s string) string {
	const most = 64
	if len(s) > most {
		return s[:most] + "..."
	}
	return s
}

// short quotes a class field for a message, clipped.
func short(s string) string {
	return fmt.Sprintf("%q", clip(s))
}

// compile compiles path once per class: a path repeated through aliases
// shares one compiled expression, so compiling costs at most what the
// class's own text holds.
func (st *parseState) compile(path string) (*jmes.Expr, error) {
	if e, ok := st.exprs[path]; ok {
		return e, nil
	}
	e, err := jmes.Compile(path)
	if err != nil {
		return nil, err
	}
	st.exprs[path] = e
	return e, nil
}
