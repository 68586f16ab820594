package class

import (
	"fmt"

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
	// MaxFiles bounds the files of a class: its objects, all their
	// jmesPath entries and, at Mount time, the keys of its
	// jsonKeysAsFiles objects.
	MaxFiles = 1000
	// maxYAMLKeys bounds the mappings and keys the parser reads in a whole
	// class, aliases and merge keys followed each time: an alias repeats
	// a mapping at the cost of a few bytes.
	maxYAMLKeys = 10_000
	// MaxOptionLength bounds the parameters that take a word
	// (pathTranslation, preferredAddressType, and the modes' such as
	// usePodIdentity).
	MaxOptionLength = 64
	// maxRegionLength bounds region names; the longest today is 14.
	maxRegionLength = 32
	// maxRoleARNLength bounds assumeRoleArn: IAM's own limit on a role
	// ARN (a path of up to 512 characters and a name of up to 64, plus the
	// prefix).
	maxRoleARNLength = 2048
	// maxExternalIDLength is STS's limit on an ExternalId.
	maxExternalIDLength = 1224
	// maxAudienceLength bounds tokenAudience; Kubernetes bounds nothing
	// here, but an audience is a URL or a short name.
	maxAudienceLength = 256
)

// The longest value of each string field of an object, from what AWS
// accepts: an ARN is at most 2048 characters, a Secrets Manager VersionId
// 64 and a VersionStage 256 (an SSM version is a number, an SSM label at
// most 100); objectType's values are short words. objectAlias is a file
// path, bounded like the driver bounds paths.
var fieldLimits = map[string]int{
	keyObjectName:         2048,
	keyObjectType:         MaxOptionLength,
	keyObjectAlias:        maxPathLength,
	keyObjectVersion:      64,
	keyObjectVersionLabel: 256,
	keyPath:               jmes.MaxExprBytes,
	keyObjectEncoding:     MaxOptionLength,
	// A secret name is at most 512 characters; an SSM name 2048.
	keyObjectNamePrefix: 512,
	keyObjectPath:       2048,
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
	// services are the catalog's, which objects name.
	services serviceTable
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
	if st.files > MaxFiles {
		return invalidArg("%s: with its jmesPath entries the SecretProviderClass writes more than %d files, the most one may write; split the objects into several SecretProviderClasses, each mounted as its own volume",
			label, MaxFiles)
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
