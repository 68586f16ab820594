package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/provider/failure"
)

// Fetcher reads the values of a class's objects from AWS with the
// credentials of one identity. It knows nothing of files or pods.
type Fetcher struct {
	secrets    func(region string) SecretsManagerAPI
	parameters func(region string) ParameterStoreAPI
}

// NewFetcher returns a Fetcher over the long-lived clients in c.
func NewFetcher(c *Clients) *Fetcher {
	return &Fetcher{secrets: c.SecretsManager, parameters: c.ParameterStore}
}

// FetchRequest is one Mount's read: whose credentials, which objects.
type FetchRequest struct {
	// Scope is the identity key (see auth.Identity.Key): values read under
	// one scope are never served to another.
	Scope string
	// Credentials are the pod identity's; every AWS call is signed with them.
	Credentials aws.CredentialsProvider
	// Class is the validated class, its Region already resolved.
	Class *Class
}

// lookup is one object to read in one region.
type lookup struct {
	index        int // position in Class.Objects
	typ          ObjectType
	name         string
	version      string
	versionLabel string
}

// Fetch reads every object of req.Class and returns values[i] for
// Class.Objects[i]. All or nothing: any object that cannot be read fails the
// whole fetch with an error naming the object, the region and the cause.
//
// Failover (SPEC section 5): the primary region is asked first; only objects
// whose primary read failed with something other than a client fault are
// asked of the failover region. The failover region is never called when the
// primary answers.
func (f *Fetcher) Fetch(ctx context.Context, req FetchRequest) ([]Value, error) {
	c := req.Class
	values := make([]Value, len(c.Objects))
	primary := make([]lookup, len(c.Objects))
	for i, o := range c.Objects {
		primary[i] = lookup{index: i, typ: o.Type, name: o.Name, version: o.Version, versionLabel: o.VersionLabel}
	}
	errs := f.read(ctx, c.Region, req.Credentials, primary, values)

	var retry []lookup
	for i, err := range errs {
		if err != nil && c.FailoverRegion != "" && !failure.IsClientFault(err) {
			o := c.Objects[i]
			l := lookup{index: i, typ: o.Type, name: o.Name, version: o.Version, versionLabel: o.VersionLabel}
			if o.Failover != nil {
				l.name, l.version, l.versionLabel = o.Failover.Name, o.Failover.Version, o.Failover.VersionLabel
			}
			retry = append(retry, l)
		}
	}
	var failoverErrs []error
	if len(retry) > 0 {
		failoverErrs = f.read(ctx, c.FailoverRegion, req.Credentials, retry, values)
	}

	var out []error
	for i, err := range errs {
		if err == nil {
			continue
		}
		o := c.Objects[i]
		ferr := errorFor(failoverErrs, retry, i)
		if ferr == nil && c.FailoverRegion != "" && !failure.IsClientFault(err) {
			continue // covered by the failover region
		}
		out = append(out, objectError(o, c.Region, err, c.FailoverRegion, ferr))
	}
	if len(out) > 0 {
		return nil, joinFailures(out)
	}
	return values, nil
}

// errorFor returns the failover error of object index, or nil when it was
// not retried or succeeded.
func errorFor(errs []error, retried []lookup, index int) error {
	for j, l := range retried {
		if l.index == index {
			return errs[j]
		}
	}
	return nil
}

// read fetches lookups in one region, filling values[l.index]; it returns one
// error per lookup (nil on success), in the order of lookups.
func (f *Fetcher) read(ctx context.Context, region string, creds aws.CredentialsProvider, lookups []lookup, values []Value) []error {
	errs := make([]error, len(lookups))
	var sm, ps []int
	for j, l := range lookups {
		if l.typ == ParameterStore {
			ps = append(ps, j)
		} else {
			sm = append(sm, j)
		}
	}
	done := make(chan struct{}, 2)
	go func() {
		readSecrets(ctx, f.secrets(region), creds, lookups, sm, values, errs)
		done <- struct{}{}
	}()
	readParameters(ctx, f.parameters(region), creds, lookups, ps, values, errs)
	<-done
	return errs
}

// objectError builds the message a user reads in `kubectl describe pod`.
func objectError(o Object, region string, err error, failoverRegion string, ferr error) error {
	what := fmt.Sprintf("objects[%d] %s %q", o.Index, serviceNoun(o.Type), o.Name)
	kind := failure.KindOf(err)
	msg := fmt.Sprintf("%s in %s: %s%s", what, region, failure.Describe(err), hint(kind, o.Type))
	if ferr != nil {
		name := o.Name
		if o.Failover != nil {
			name = o.Failover.Name
		}
		msg += fmt.Sprintf("; failover %q in %s: %s", name, failoverRegion, failure.Describe(ferr))
		if failure.IsClientFault(ferr) {
			kind = failure.KindOf(ferr)
		}
	}
	return &failure.Error{Kind: kind, Msg: msg}
}

func serviceNoun(t ObjectType) string {
	if t == ParameterStore {
		return "SSM parameter"
	}
	return "Secrets Manager secret"
}

// hint says what to do about the most common failures.
func hint(k failure.Kind, t ObjectType) string {
	switch k {
	case failure.PermissionDenied:
		if t == ParameterStore {
			return " (allow ssm:GetParameters, and kms:Decrypt for SecureString, in the role's policy)"
		}
		return " (allow secretsmanager:GetSecretValue, and kms:Decrypt for a customer-managed key, in the role's policy)"
	case failure.NotFound:
		return " (check objectName, objectVersion and objectVersionLabel, and the region)"
	}
	return ""
}

// joinFailures combines per-object failures into one classified error whose
// kind is the first one's (the message lists them all).
func joinFailures(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msg := fmt.Sprintf("%d objects failed: ", len(errs))
	for i, e := range errs {
		if i > 0 {
			msg += "; "
		}
		msg += e.Error()
	}
	return &failure.Error{Kind: failure.KindOf(errs[0]), Msg: msg}
}

// apiError builds a modelled AWS error for a failure reported inside a
// successful answer (SSM InvalidParameters, BatchGetSecretValue's Errors),
// so that failover and classification treat it like the same error returned
// by a single-object call.
func apiError(code, message string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: fault}
}

var errNoValue = errors.New("AWS returned no value")
