// Package class is the SecretProviderClass model: the Mount attributes a
// class's spec.parameters arrive in, parsed and validated into a Class,
// without any I/O (docs/limits.md bounds what one class may cost), and the
// cache of parsed classes. What is read, from where and with which
// credentials is decided elsewhere (packages provider and auth); a Class
// says only what the tenant asked for.
package class

import (
	"fmt"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/jmes"
)

// ObjectType names the AWS service an object is read from: the objectType
// of one of the Catalog's services.
type ObjectType string

// Class is a validated SecretProviderClass: spec.parameters turned into a
// plan that needs no further checks before I/O. Build one with Parse.
type Class struct {
	// Region is the class's own `region` parameter, "" when absent. The
	// primary region a Mount reads in is resolved from it by the caller
	// (see CheckRegion) and travels beside the class.
	Region string
	// FailoverRegion is the optional `failoverRegion`; empty when unset.
	FailoverRegion string
	// PathTranslation is the character that replaces "/" in file names, or ""
	// when translation is off (`pathTranslation: False`).
	PathTranslation string
	// Mode is the auth mode the class's parameters choose among the
	// catalog's modes, else the catalog's default (its first).
	Mode AuthMode
	// PreferredAddressType is "ipv4", "ipv6" or "auto" (lower case).
	PreferredAddressType string
	// AssumeRole is the cross-account hop after the pod's own identity;
	// nil when the class asks for none.
	AssumeRole *AssumeRole
	// TokenAudience is the audience of the token IRSA exchanges; "" is the
	// default (sts.amazonaws.com).
	TokenAudience string
	// Objects in the order the class lists them.
	Objects []Object
	// work bounds how many objects' jmesPath entries are evaluated at once,
	// shared by the classes of one Cache (set before the cache hands
	// the class out); nil: no bound.
	work chan struct{}
}

// EvaluationSlot waits for one of the slots the classes of c's Cache share
// for evaluating an object's jmesPath entries, and returns what gives it
// back. Evaluations are CPU-bound work on tenant input: one per CPU at a
// time costs no throughput and bounds what a burst of Mounts holds at once
// (docs/limits.md, many Mounts at once). A class not from a Cache has no
// bound.
func (c *Class) EvaluationSlot() (release func()) {
	return acquire(c.work)
}

// Object is one validated entry of the class's `objects` list.
type Object struct {
	// Index is the entry's position in `objects`, used in messages
	// ("objects[2]").
	Index int
	// Name is objectName as written: a name or an ARN.
	Name string
	// Type is given or inferred from the ARN.
	Type ObjectType
	// Alias is objectAlias as written ("" when absent).
	Alias string
	// Version is objectVersion (Secrets Manager VersionId, SSM version number).
	Version string
	// VersionLabel is objectVersionLabel (VersionStage or SSM label).
	VersionLabel string
	// Mode is the file mode (filePermission, else the driver's permission).
	Mode int32
	// FileName is the relative, clean path of the object's file.
	FileName string
	// JMESPath lists extra files cut out of the JSON value.
	JMESPath []JMESPathFile
	// Failover is the object to read in the failover region; nil means the
	// same Name/Version/VersionLabel there.
	Failover *FailoverObject
	// JSONKeysAsFiles makes every top-level key of the JSON value one more
	// file, named after the key (translated like an objectAlias).
	JSONKeysAsFiles bool
	// Optional leaves the object's files out when the object does not
	// exist, instead of failing the Mount.
	Optional bool
	// Encoding is objectEncoding: how the value is stored, decoded before
	// it is written (see OwnEncoding); the default of the object's
	// jmesPath entries and the encoding of its jsonKeysAsFiles keys.
	Encoding Encoding
	// Listing, when set, makes the object a set: every object it matches
	// at Mount time (see Class.Member); Name is then the prefix or path,
	// and FileName objectAlias, the directory of the set ("" for the
	// mount's top).
	Listing *Listing
	// ListedBy is the prefix or path of the listing a member (see
	// Class.Member) was matched by; "" for an object of the class.
	ListedBy string
	// Dir, when set, is the directory a member read as JSON is instead of
	// a file: its jmesPath and key files are written in it, and it has no
	// file of its own.
	Dir string
}

// JMESPathFile is one `jmesPath` entry: an expression over the object's JSON
// value whose result becomes a file of its own.
type JMESPathFile struct {
	Path     string
	FileName string
	Mode     int32
	// Encoding is the entry's objectEncoding, else its object's: a string
	// result is decoded with it before it is written.
	Encoding Encoding
	// Expr is Path compiled and checked by Parse; nil in a JMESPathFile
	// built by hand, which the caller then compiles.
	Expr *jmes.Expr
}

// FailoverObject is the `failoverObject` of an entry.
type FailoverObject struct {
	Name         string
	Version      string
	VersionLabel string
}

// Label names an object in messages: objects[2] "db-creds".
func (o *Object) Label() string {
	if o.ListedBy != "" {
		return fmt.Sprintf("objects[%d] %q match %q", o.Index, o.ListedBy, o.Name)
	}
	return objectLabel(o.Index, o.Name)
}

func objectLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("objects[%d]", i)
	}
	return fmt.Sprintf("objects[%d] %q", i, name)
}

func invalidArg(format string, args ...any) error {
	return failure.New(failure.InvalidArgument, format, args...)
}
