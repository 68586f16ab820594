package provider

import (
	"context"
	"fmt"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// service is one row of the services table: an AWS service objects are
// read from. Parsing sees it as a class.Service (its objectType, ARNs,
// version rules and noun); the Fetcher reads through it. Each row lives in
// the file named for its service, with its client and its reads.
type service struct {
	objectType class.ObjectType
	arn        class.ARNForm
	versions   class.VersionRules
	// noun names one object in messages ("SSM parameter").
	noun string
	// permission is what to allow in the role's policy when AWS denies a
	// read, for the message the user reads.
	permission string
	// versionPins: a version names a value that never changes, so a
	// cached one only needs this identity's access confirmed after the
	// TTL (docs/design.md, freshness in numbers).
	versionPins bool
	// currentLabel is the label that names the same value as no label
	// ("" when none): both share one cache entry and one read.
	currentLabel string
	// read reads the objects at positions idx of r.reads, all of this
	// service, in r.region, filling r.values and r.errs.
	read func(r *regionRead, ctx context.Context, idx []int)
	// list is how a class names a set of the service's objects, and
	// listPermission what the role's policy must allow for it.
	list           class.ListForm
	listPermission string
	// readList reads every object a listing matches (a listRead).
	readList func(ctx context.Context, l listRead) ([]Member, error)
}

// services is the table. Adding a service is a file of its own holding its
// row, its client and its reads, and one line here (docs/design.md, where
// to add a service).
var services = []*service{secretsManager, parameterStore}

// Services are the table's rows as parsing sees them, for class.Catalog.
// The order is the table's: messages list objectType values in it.
func Services() []class.Service { return class.Rows[class.Service](services) }

// serviceOf returns the row that reads objects of type t. An object type
// without a row is a bug (the class was parsed with another catalog, or
// built by hand), never a reason to ask another service.
func serviceOf(o *class.Object) (*service, error) {
	for _, s := range services {
		if s.objectType == o.Type {
			return s, nil
		}
	}
	return nil, failure.New(failure.Internal, "%s has objectType %q, which no service of this daemon reads", o.Label(), o.Type)
}

func (s *service) ObjectType() class.ObjectType { return s.objectType }
func (s *service) ARN() class.ARNForm           { return s.arn }
func (s *service) Versions() class.VersionRules { return s.versions }
func (s *service) Noun() string                 { return s.noun }
func (s *service) List() class.ListForm         { return s.list }

var _ class.Service = (*service)(nil)

// hint says what to do about the most common failures of a read; listing
// for a listing object's.
func (s *service) hint(k failure.Kind, listing bool) string {
	switch {
	case k == failure.PermissionDenied && listing:
		return fmt.Sprintf(" (allow %s, in the role's policy)", s.listPermission)
	case k == failure.PermissionDenied:
		return fmt.Sprintf(" (allow %s, in the role's policy)", s.permission)
	case k == failure.NotFound && listing:
		return fmt.Sprintf(" (check %s and the region, or set optional: true to mount an empty set)", s.list.Field)
	case k == failure.NotFound:
		return " (check objectName, objectVersion and objectVersionLabel, and the region)"
	}
	return ""
}
