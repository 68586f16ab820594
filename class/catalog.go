package class

import (
	"fmt"
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Catalog is what parsing knows of the daemon's services and auth modes:
// it knows none by name. The daemon builds it from its tables (package
// provider's services, package auth's modes) and hands it to Parse and
// NewCache, so that a service or a mode added to a table is parsed without
// any change here.
type Catalog struct {
	// Services are the AWS services objects are read from, one per
	// objectType.
	Services []Service
	// Modes are the ways a pod's identity becomes credentials. Modes[0] is
	// the default: a class's mode when its parameters choose no other.
	Modes []Mode
}

// Rows returns a table's rows as the interface parsing sees them (Service or
// Mode): the services and modes tables keep their own row types, which
// carry more than parsing needs.
func Rows[I any, R any](table []R) []I {
	out := make([]I, len(table))
	for i, r := range table {
		out[i] = any(r).(I)
	}
	return out
}

// AuthMode names how a pod's identity becomes AWS credentials: the Name of
// one of the Catalog's modes ("irsa", "pod-identity").
type AuthMode string

// Mode is what parsing needs of one auth mode: its name, the class
// parameters it reads and whether a class's parameters choose it.
type Mode interface {
	Name() AuthMode
	// Params are the class parameters the mode reads, with their limits:
	// the parser checks their length, and the class cache's key covers
	// them.
	Params() []Param
	// Chosen reports whether a class's parameters choose this mode; value
	// returns a parameter's value ("" when absent). Its error says what is
	// wrong with a value, naming the parameter.
	Chosen(value func(param string) string) (bool, error)
}

// Service is what parsing needs of one AWS service objects are read from:
// the objectType that names it, the shape of its ARNs, its version rules
// and the noun its messages use.
type Service interface {
	// ObjectType is the objectType value that selects the service
	// ("ssmparameter"), matched without regard to case, and the Type of
	// its objects.
	ObjectType() ObjectType
	// ARN says what the service's ARNs look like.
	ARN() ARNForm
	// Versions are the service's rules for objectVersion and
	// objectVersionLabel.
	Versions() VersionRules
	// Noun names one of its objects in messages ("SSM parameter").
	Noun() string
	// List says how a class names a set of the service's objects.
	List() ListForm
}

// ARNForm is the shape of a service's ARNs,
// arn:PARTITION:Service:REGION:ACCOUNT:Resource..., and how messages name
// them.
type ARNForm struct {
	// Service is the ARN's service field ("ssm").
	Service string
	// Resource is what the resource field starts with, before the name
	// ("parameter/").
	Resource string
	// Title names the service's ARNs in messages ("SSM ARN ...").
	Title string
	// Names says what the resource must name ("a parameter").
	Names string
}

// VersionRules are a service's rules for objectVersion and
// objectVersionLabel (each checked on the object and on its
// failoverObject).
type VersionRules struct {
	// VersionOrLabel: an object is read by a version or by a label, never
	// by both (SSM's name:version or name:label).
	VersionOrLabel bool
	// ValidVersion, when set, says whether objectVersion has the form the
	// service accepts; VersionForm describes that form in messages ("an
	// SSM parameter version number such as \"3\"").
	ValidVersion func(string) bool
	VersionForm  string
}

// serviceTable is a catalog's services, looked up the ways parsing needs.
type serviceTable []Service

// newServiceTable checks that each service is named by one objectType and
// one ARN service field.
func newServiceTable(services []Service) (serviceTable, error) {
	if len(services) == 0 {
		return nil, failure.New(failure.Internal, "the class catalog has no services")
	}
	for i, s := range services {
		for _, earlier := range services[:i] {
			if strings.EqualFold(string(s.ObjectType()), string(earlier.ObjectType())) || s.ARN().Service == earlier.ARN().Service {
				return nil, failure.New(failure.Internal, "the class catalog's service %d (%s) shares its objectType or ARN service with another", i, s.ObjectType())
			}
		}
	}
	return serviceTable(services), nil
}

// byType returns the service objectType typ names, nil when none does.
func (t serviceTable) byType(typ string) Service {
	for _, s := range t {
		if strings.EqualFold(typ, string(s.ObjectType())) {
			return s
		}
	}
	return nil
}

// byARN returns the service whose ARNs have this service field.
func (t serviceTable) byARN(service string) Service {
	for _, s := range t {
		if s.ARN().Service == service {
			return s
		}
	}
	return nil
}

// types lists the objectType values for messages: "secretsmanager or
// ssmparameter".
func (t serviceTable) types() string {
	names := make([]string, len(t))
	for i, s := range t {
		names[i] = string(s.ObjectType())
	}
	return orList(names)
}

// notAnARNService says an ARN service field is none of the table's:
// "is neither secretsmanager nor ssm".
func (t serviceTable) notAnARNService() string {
	names := make([]string, len(t))
	for i, s := range t {
		names[i] = s.ARN().Service
	}
	if len(names) == 2 {
		return fmt.Sprintf("is neither %s nor %s", names[0], names[1])
	}
	return "is not " + orList(names)
}

// checkModes checks that the catalog has a default mode and names each
// mode once.
func checkModes(modes []Mode) error {
	if len(modes) == 0 {
		return failure.New(failure.Internal, "the class catalog has no auth modes")
	}
	for i, m := range modes {
		for _, earlier := range modes[:i] {
			if m.Name() == earlier.Name() {
				return failure.New(failure.Internal, "the class catalog names auth mode %q twice", m.Name())
			}
		}
	}
	return nil
}

// orList joins words for a message: "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// checkVersions applies s's version rules. prefix is "" for the object
// itself and "failoverObject " for its failover object.
func checkVersions(label, prefix string, s Service, version, versionLabel string) error {
	r := s.Versions()
	if r.VersionOrLabel && version != "" && versionLabel != "" {
		return invalidArg("%s: %sobjectVersion and %sobjectVersionLabel are both set, but %ss take one or the other; remove one",
			label, prefix, prefix, s.Noun())
	}
	if version != "" && r.ValidVersion != nil && !r.ValidVersion(version) {
		return invalidArg("%s: %sobjectVersion %q is not %s", label, prefix, version, r.VersionForm)
	}
	return nil
}
