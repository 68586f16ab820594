package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/singleflight"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// Fetcher reads the values of a class's objects from AWS with the
// credentials of one identity, through an identity-scoped value cache. It
// knows nothing of files or pods.
type Fetcher struct {
	clients *Clients
	opts    FetcherOptions
	cache   *valueCache
	flight  singleflight.Group
	// noBatch remembers, per scope and region, that the role may not call
	// BatchGetSecretValue, so the denied call is not repeated every Mount.
	noBatch *expiringSet
	// failoverChecked remembers when a class's failover objects were last
	// checked in the background.
	failoverChecked *expiringSet
	// staleLogged remembers which objects were reported served stale, so
	// that a brown-out logs one line per object, not one per Mount.
	staleLogged *expiringSet
	// missingLogged does the same for optional objects left out.
	missingLogged *expiringSet
	// background tracks failover checks so tests and shutdown can wait.
	background sync.WaitGroup
}

// FetcherOptions tune the value cache and batching. Zero values take the
// defaults noted.
type FetcherOptions struct {
	// CacheTTL is how long a value is served from cache after AWS last
	// confirmed it; 0 disables the value cache (every Mount reads AWS).
	CacheTTL time.Duration
	// StaleMax is how long after AWS last confirmed it a value may still be
	// served when a refresh fails with a server fault, throttling or a
	// timeout (never a denial or a missing object); 0 = never.
	StaleMax time.Duration
	// MaxEntries bounds the cache (default 10000 values).
	MaxEntries int
	// MaxBytes bounds the bytes of cached values (default 64 MiB).
	MaxBytes int
	// BatchDeniedFor is how long a denied BatchGetSecretValue is remembered
	// per identity before it is tried again (default 1h).
	BatchDeniedFor time.Duration
	// FailoverCheckEvery is how often, per identity and class, the failover
	// objects are read in the background while the primary answers, so that
	// a misconfigured failover object is reported before it is needed
	// (default 15m; never more often than CacheTTL).
	FailoverCheckEvery time.Duration
	// CallTimeout bounds one shared AWS read (default 20s).
	CallTimeout time.Duration
	// MaxListingBytes bounds the values the listing objects of one class
	// hold while they read, shared equally among them (default 4 MiB, the
	// driver's default answer limit): the daemon sets its
	// --max-response-bytes, since larger sets cannot be answered anyway.
	MaxListingBytes int
	// Clock is the time source (default time.Now).
	Clock func() time.Time
	// OnFailoverProblem is told when a background failover check finds an
	// object the failover region would not serve (default: log it).
	OnFailoverProblem func(err error)
	// Observer is told of every value cache lookup, every stale value
	// served and every optional object left out (metrics); optional.
	Observer FetchObserver
}

// FetchObserver counts what the Fetcher decides (package server's metrics).
type FetchObserver interface {
	// ObserveStaleValue counts a value served past its TTL because AWS
	// could not be reached; service is "secretsmanager" or "ssmparameter".
	ObserveStaleValue(service string)
	// ObserveValueLookup counts one lookup of one object of a Mount in the
	// value cache: hit when a fresh value was served from it, a miss
	// otherwise (nothing held, or a value held past its TTL or older than
	// the pod's previous Mount, which AWS must confirm or read again). Not
	// called when the cache is off (CacheTTL 0).
	ObserveValueLookup(hit bool)
	// ObserveOptionalMissing counts an optional object a Fetch left out
	// because it does not exist; service as above.
	ObserveOptionalMissing(service string)
}

// NewFetcher returns a Fetcher over the long-lived clients in c.
func NewFetcher(c *Clients, opts FetcherOptions) *Fetcher {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 64 << 20
	}
	if opts.BatchDeniedFor <= 0 {
		opts.BatchDeniedFor = time.Hour
	}
	if opts.FailoverCheckEvery <= 0 {
		opts.FailoverCheckEvery = 15 * time.Minute
	}
	opts.FailoverCheckEvery = max(opts.FailoverCheckEvery, opts.CacheTTL)
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 20 * time.Second
	}
	if opts.MaxListingBytes <= 0 {
		opts.MaxListingBytes = 4 << 20
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.OnFailoverProblem == nil {
		opts.OnFailoverProblem = func(err error) {
			klog.InfoS("failover region would not serve an object; fix it before the primary region fails", "problem", err.Error())
		}
	}
	return &Fetcher{
		clients: c, opts: opts,
		cache:           newValueCache(opts.CacheTTL, opts.StaleMax, opts.MaxEntries, opts.MaxBytes, opts.Clock),
		noBatch:         newExpiringSet(4096, opts.Clock),
		failoverChecked: newExpiringSet(4096, opts.Clock),
		staleLogged:     newExpiringSet(4096, opts.Clock),
		missingLogged:   newExpiringSet(4096, opts.Clock),
	}
}

// Wait blocks until background failover checks have finished.
func (f *Fetcher) Wait() { f.background.Wait() }

// CacheStats reports the values and bytes the cache holds.
func (f *Fetcher) CacheStats() (entries, bytes int) { return f.cache.stats() }

// FetchRequest is one Mount's read: whose credentials, which objects.
type FetchRequest struct {
	// Scope is the identity key (see auth.Identity.Key): values read under
	// one scope are never served to another.
	Scope string
	// Credentials are the pod identity's; every AWS call is signed with them.
	Credentials aws.CredentialsProvider
	// Mount is the parsed request: its Class and primary Region.
	Mount *request.Mount
	// NotBefore is the start of this pod's previous successful Mount when
	// this one is a republish (zero otherwise): no value AWS confirmed before
	// it is served from the cache (docs/design.md, invariant 8), so a
	// rotated secret reaches every pod within two of its own republishes.
	NotBefore time.Time
	// background marks the reads of a background failover check, whose
	// cache lookups are not a Mount's and are not counted.
	background bool
}

// objectRead is one object to read in one region: the object itself in
// the primary region, or what its failoverObject names in the failover
// region.
type objectRead struct {
	index        int // position in Class.Objects
	svc          *service
	name         string
	version      string
	versionLabel string
	// optional: when the object does not exist, it is left out
	// (Value.Missing) instead of failing. Not part of the cache key: an
	// optional and a plain read of one object share its value.
	optional bool
	// list, when set, makes this the read of every object a listing
	// matches (name is then its prefix or path), holding at most
	// listBytes of values while it reads.
	list      *class.Listing
	listBytes int
}

// Fetch reads every object of req.Mount.Class and returns values[i] for
// Class.Objects[i]. All or nothing: any object that cannot be read fails the
// whole fetch with an error naming the object, the region and the cause.
//
// Failover (docs/design.md, the one failover rule): the primary region is
// asked first; only objects whose primary read failed with something other
// than a client fault are asked of the failover region. The failover region
// is never called when the primary answers. When neither region can be
// reached, the last good value is served if AWS confirmed it within
// StaleMax (see serveStale).
func (f *Fetcher) Fetch(ctx context.Context, req FetchRequest) ([]Value, error) {
	c := req.Mount.Class
	values := make([]Value, len(c.Objects))
	rctx, cancel := f.readContext(ctx)
	defer cancel()
	p, err := planReads(c, f.opts.MaxListingBytes)
	if err != nil {
		return nil, err
	}
	errs := f.read(rctx, req, req.Mount.Region, p.primary, values)

	var retry []objectRead
	for i, err := range errs {
		if err != nil && c.FailoverRegion != "" && !failure.IsClientFault(err) {
			retry = append(retry, p.failover[i])
		}
	}
	var failoverErrs []error
	if len(retry) > 0 {
		failoverErrs = f.read(rctx, req, c.FailoverRegion, retry, values)
	} else if c.FailoverRegion != "" {
		f.checkFailover(req, p.failover)
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
		if f.serveStale(req, p, i, err, ferr, values) {
			continue
		}
		out = append(out, objectError(o, p.primary[i].svc, req.Mount.Region, err, c.FailoverRegion, ferr))
	}
	if len(out) > 0 {
		return nil, joinFailures(out)
	}
	f.reportMissing(req, p, errs, values)
	return values, nil
}

// readContext is ctx for the AWS reads: when stale values may be served,
// it ends a little before the Mount's deadline (a fifth of the time left,
// at most 2s), so that a read that times out still leaves time to answer
// with the last good value.
func (f *Fetcher) readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || f.opts.StaleMax <= 0 || !f.cache.enabled() {
		return ctx, func() {}
	}
	margin := min(2*time.Second, time.Until(dl)/5)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// errorFor returns the failover error of object index, or nil when it was
// not retried or succeeded.
func errorFor(errs []error, retried []objectRead, index int) error {
	for j, l := range retried {
		if l.index == index {
			return errs[j]
		}
	}
	return nil
}

// plan is what a Fetch asks for each object of the class, by position: of
// the primary region, and of the failover region (its failoverObject where
// it has one, else the same object).
type plan struct {
	primary, failover []objectRead
}

// planReads finds the service of every object; one without a row in the
// services table fails the whole Fetch (an Internal error). The class's
// listings share listingBytes: each may hold its share of it while it
// reads, so a class of many listings holds no more than one.
func planReads(c *class.Class, listingBytes int) (plan, error) {
	p := plan{primary: make([]objectRead, len(c.Objects)), failover: make([]objectRead, len(c.Objects))}
	listings := 0
	for i := range c.Objects {
		if c.Objects[i].Listing != nil {
			listings++
		}
	}
	for i := range c.Objects {
		o := &c.Objects[i]
		svc, err := serviceOf(o)
		if err != nil {
			return plan{}, err
		}
		p.primary[i] = objectRead{index: i, svc: svc, name: o.Name, version: o.Version, versionLabel: o.VersionLabel, optional: o.Optional, list: o.Listing}
		if o.Listing != nil {
			p.primary[i].listBytes = listingBytes / listings
		}
		p.failover[i] = p.primary[i]
		if fo := o.Failover; fo != nil {
			p.failover[i].name, p.failover[i].version, p.failover[i].versionLabel = fo.Name, fo.Version, fo.VersionLabel
		}
	}
	return p, nil
}

// checkFailover reads the class's failover objects in the background, at
// most once per FailoverCheckEvery per identity and class, and reports any
// that the failover region would refuse: a misconfigured failover object is
// found while the primary still answers, without doubling steady-state calls.
func (f *Fetcher) checkFailover(req FetchRequest, reads []objectRead) {
	c := req.Mount.Class
	var sig strings.Builder
	sig.WriteString(req.Scope + "\x00" + c.FailoverRegion)
	for _, l := range reads {
		sig.WriteString("\x00" + cacheKey("", "", l))
	}
	if !f.failoverChecked.addIfAbsent(sig.String(), f.opts.FailoverCheckEvery) {
		return
	}
	f.background.Add(1)
	go func() {
		defer f.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.CallTimeout)
		defer cancel()
		values := make([]Value, len(c.Objects))
		errs := f.read(ctx, FetchRequest{Scope: req.Scope, Credentials: req.Credentials, background: true}, c.FailoverRegion, reads, values)
		for i, err := range errs {
			if err != nil && failure.IsClientFault(err) {
				o := c.Objects[i]
				f.opts.OnFailoverProblem(failure.Wrap(failure.KindOf(err), err, "objects[%d] %s %q in failover region %s",
					o.Index, reads[i].svc.noun, reads[i].name, c.FailoverRegion))
			}
		}
	}()
}

// objectError builds the message a user reads in `kubectl describe pod`.
func objectError(o class.Object, svc *service, region string, err error, failoverRegion string, ferr error) error {
	what := fmt.Sprintf("objects[%d] %s %q", o.Index, svc.noun, o.Name)
	if o.Listing != nil {
		what = fmt.Sprintf("objects[%d] %s %q", o.Index, o.Listing.Field, o.Name)
	}
	kind := failure.KindOf(err)
	msg := fmt.Sprintf("%s in %s: %s%s", what, region, failure.Describe(err), svc.hint(kind, o.Listing != nil))
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
	return &failure.Error{Kind: kind, Msg: msg, Causes: []error{err, ferr}}
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
	return &failure.Error{Kind: failure.KindOf(errs[0]), Msg: msg, Causes: errs}
}

// apiError builds a modelled AWS error for a failure reported inside a
// successful answer (SSM InvalidParameters, BatchGetSecretValue's Errors),
// so that failover and classification treat it like the same error returned
// by a single-object call.
func apiError(code, message string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: fault}
}

var errNoValue = errors.New("AWS returned no value")
