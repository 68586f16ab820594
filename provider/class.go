// Package provider owns the SecretProviderClass model (parameters and
// objects), the AWS fetchers for Secrets Manager and SSM Parameter Store, the
// value cache, the transforms (jmesPath) and the file set handed back to the
// driver or written by the daemon itself.
//
// It never reads a pod's mount back, never chooses credentials (they arrive
// per call from package auth) and never lets a SecretProviderClass pick an
// endpoint: endpoints, TLS and proxies belong to the operator.
package provider

import "github.com/csi-provider-aws/csi-provider-aws/jmes"

// ObjectType names the AWS service an object is read from.
type ObjectType string

const (
	// SecretsManager objects are read with GetSecretValue / BatchGetSecretValue.
	SecretsManager ObjectType = "secretsmanager"
	// ParameterStore objects are read with SSM GetParameters.
	ParameterStore ObjectType = "ssmparameter"
)

// Class is a validated SecretProviderClass: spec.parameters turned into a
// plan that needs no further checks before I/O. Build one with ParseClass.
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
	// UsePodIdentity selects EKS Pod Identity instead of IRSA.
	UsePodIdentity bool
	// PreferredAddressType is "ipv4", "ipv6" or "auto" (lower case).
	PreferredAddressType string
	// Objects in the order the class lists them.
	Objects []Object
	// work bounds how many objects' jmesPath entries are evaluated at once,
	// shared by the classes of one ClassCache (set before the cache hands
	// the class out); nil: no bound.
	work chan struct{}
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
}

// JMESPathFile is one `jmesPath` entry: an expression over the object's JSON
// value whose string result becomes a file of its own.
type JMESPathFile struct {
	Path     string
	FileName string
	Mode     int32
	// expr is Path compiled and checked by ParseClass; nil in a
	// JMESPathFile built by hand, which BuildFiles then compiles.
	expr *jmes.Expr
}

// FailoverObject is the `failoverObject` of an entry.
type FailoverObject struct {
	Name         string
	Version      string
	VersionLabel string
}
