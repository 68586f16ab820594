package auth

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Cache tuning. Credentials obtained at t0 that expire at t0+L are served
// until L/5 (at most 5 minutes) before they expire, and refreshed in the
// background from about three quarters of L on (earlier by a random jitter
// of up to L/10, so that identities obtained together do not all refresh
// together). For STS's default hour: refresh from 39-45 minutes, never
// served with less than 5 minutes left.
const (
	defaultCacheSize   = 4096
	maxStaleMargin     = 5 * time.Minute
	defaultFetchBudget = 30 * time.Second
	defaultRetryAfter  = 30 * time.Second
	// An exchange leaves at most maxDeadlineReserve of its first caller's
	// time unused, so that its own error reaches that caller, but runs for
	// at least defaultMinFlight (flightContext).
	maxDeadlineReserve = 500 * time.Millisecond
	defaultMinFlight   = 5 * time.Second
)

// ScopeMode is what cached credentials and values are shared by.
type ScopeMode string

const (
	// ScopeIdentity shares them among the pods of one identity (mode,
	// namespace, ServiceAccount, role, region): one STS or agent call per
	// identity per credential lifetime. See the caveat on Identity.Key.
	ScopeIdentity ScopeMode = "identity"
	// ScopePod keeps them per pod (the key adds the pod UID), for IAM
	// policies whose conditions tell pods of one ServiceAccount apart: one
	// STS or agent call per pod per credential lifetime. The request's
	// token must then be bound to that pod: its kubernetes.io pod claim
	// must name the request's pod name and UID.
	ScopePod ScopeMode = "pod"
)

// ParseScope reads a --cache-scope value ("" is ScopeIdentity).
func ParseScope(s string) (ScopeMode, error) {
	switch ScopeMode(s) {
	case "", ScopeIdentity:
		return ScopeIdentity, nil
	case ScopePod:
		return ScopePod, nil
	}
	return "", fmt.Errorf("cache scope must be %q or %q, got %q", ScopeIdentity, ScopePod, s)
}

// CredentialsOptions tune NewCredentialsWithOptions. The zero value is
// usable.
type CredentialsOptions struct {
	// Scope is ScopeIdentity ("" too) or ScopePod.
	Scope ScopeMode
	// Clock is the time source; default time.Now.
	Clock func() time.Time
}

// Credentials resolves a Mount's identity and its AWS credentials, caching
// the credentials per identity key (Identity.Key). Safe for concurrent use.
type Credentials struct {
	roles       Roles
	irsa        *IRSA
	podIdentity *PodIdentity
	now         func() time.Time
	perPod      bool

	// fetchBudget bounds one STS or agent exchange, however many requests
	// wait for it, and minFlight is the least it is given (flightContext);
	// retryAfter spaces background refreshes after a failure.
	fetchBudget, minFlight, retryAfter time.Duration

	cache *lru.Cache[string, *cached]
	group singleflight.Group
	// mu serialises storing an entry with the decisions that replace or
	// drop one after looking at it (a failed background refresh,
	// Invalidate), so that they never act on an entry stored meanwhile.
	mu sync.Mutex
}

// cached is one identity's credentials; never modified once stored.
type cached struct {
	creds      aws.Credentials
	obtainedAt time.Time // when STS or the agent issued them (for Invalidate)
	refreshAt  time.Time // refresh in the background from then on
	staleAt    time.Time // never served from then on
	retryAt    time.Time // no background refresh before (after a failure)
}

// NewCredentials returns a resolver over roles (ServiceAccount roles),
// irsa and podIdentity (either may be nil when that mode is not offered);
// clock is the time source (time.Now outside tests). Credentials are shared
// per identity (ScopeIdentity).
func NewCredentials(roles Roles, irsa *IRSA, podIdentity *PodIdentity, clock func() time.Time) *Credentials {
	c, err := NewCredentialsWithOptions(roles, irsa, podIdentity, CredentialsOptions{Clock: clock})
	if err != nil {
		panic(err) // the zero options are valid
	}
	return c
}

// NewCredentialsWithOptions is NewCredentials with a choice of scope.
func NewCredentialsWithOptions(roles Roles, irsa *IRSA, podIdentity *PodIdentity, opts CredentialsOptions) (*Credentials, error) {
	scope, err := ParseScope(string(opts.Scope))
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	cache, err := lru.New[string, *cached](defaultCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Credentials{
		roles: roles, irsa: irsa, podIdentity: podIdentity, now: opts.Clock, perPod: scope == ScopePod,
		fetchBudget: defaultFetchBudget, minFlight: defaultMinFlight, retryAfter: defaultRetryAfter,
		cache: cache,
	}, nil
}

// Resolve decides who req acts as and returns credentials for exactly that
// identity. In order: the mode (req.Mode, IRSA when empty), the token
// for the mode's audience, CheckToken on it (and, with ScopePod, its pod
// claim against the request's pod), the ServiceAccount's role
// (IRSA), then cached credentials for Identity.Key or a new STS or agent
// exchange. A cached credential is served only after this request's own
// token passed CheckToken and, with IRSA, the role read now is the one in
// the key. The returned provider yields only these credentials; it never
// falls back to any other source.
func (c *Credentials) Resolve(ctx context.Context, req Request) (Identity, aws.CredentialsProvider, error) {
	id, ex, err := c.identify(ctx, req)
	if err != nil {
		return Identity{}, nil, err
	}
	key := id.Key()
	now := c.now()
	if e, ok := c.cache.Get(key); ok && now.Before(e.staleAt) {
		if !now.Before(e.refreshAt) && !now.Before(e.retryAt) {
			c.refreshAhead(key, id, ex, e)
		}
		return id, static(e.creds), nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		fctx, cancel := c.flightContext(ctx)
		defer cancel()
		return c.obtain(fctx, key, id, ex)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Identity{}, nil, r.Err
		}
		return id, static(r.Val.(aws.Credentials)), nil
	case <-ctx.Done():
		return Identity{}, nil, failure.Wrap(failure.Timeout, ctx.Err(),
			"waiting for %s credentials of ServiceAccount %s/%s", id.Mode, id.Namespace, id.ServiceAccount)
	}
}

// exchange is what one STS or agent call needs besides the Identity: the
// pod's token (never logged) and the class's choices.
type exchange struct {
	token, preferredAddressType, failoverRegion string
}

// identify checks the request and its token and builds the Identity.
func (c *Credentials) identify(ctx context.Context, req Request) (Identity, exchange, error) {
	if req.Namespace == "" || req.ServiceAccount == "" {
		return Identity{}, exchange{}, failure.New(failure.InvalidArgument,
			"the mount request names no pod namespace or ServiceAccount; the CSIDriver secrets-store.csi.k8s.io must have podInfoOnMount: true")
	}
	if err := checkNames(req); err != nil {
		return Identity{}, exchange{}, err
	}
	if req.Region == "" {
		return Identity{}, exchange{}, failure.New(failure.Internal, "credentials were asked for ServiceAccount %s/%s before a region was resolved",
			req.Namespace, req.ServiceAccount)
	}
	id := Identity{
		Mode: ModeIRSA, Namespace: req.Namespace, ServiceAccount: req.ServiceAccount,
		Region: req.Region, PodName: req.PodName, PodUID: req.PodUID, PerPod: c.perPod,
	}
	if c.perPod && (req.PodUID == "" || strings.Contains(req.PodUID, "|")) {
		// Without a usable UID the pod could share another pod's entry.
		return Identity{}, exchange{}, failure.New(failure.InvalidArgument,
			"the mount request has no usable %s attribute, which the per-pod cache scope (--cache-scope=pod) needs; the CSIDriver secrets-store.csi.k8s.io must have podInfoOnMount: true",
			AttrPodUID)
	}
	audience := AudienceSTS
	switch req.Mode {
	case ModeIRSA, "":
	case ModePodIdentity:
		id.Mode, audience = ModePodIdentity, AudiencePodIdentity
	default:
		return Identity{}, exchange{}, failure.New(failure.Internal, "the SecretProviderClass asks for auth mode %q, which this daemon does not have", req.Mode)
	}
	if (id.Mode == ModeIRSA && c.irsa == nil) || (id.Mode == ModePodIdentity && c.podIdentity == nil) {
		return Identity{}, exchange{}, failure.New(failure.FailedPrecondition, "this daemon does not offer %s credentials", id.Mode)
	}
	tok, ok := req.Tokens[audience]
	if !ok || tok.Token == "" {
		return Identity{}, exchange{}, failure.New(failure.FailedPrecondition,
			"no service account token for audience %q in the request; add {audience: %s} to the tokenRequests of CSIDriver secrets-store.csi.k8s.io",
			audience, audience)
	}
	claims, err := checkToken(tok, audience, req.Namespace, req.ServiceAccount, c.now())
	if err != nil {
		return Identity{}, exchange{}, err
	}
	if c.perPod {
		if err := checkPodClaim(claims, audience, req); err != nil {
			return Identity{}, exchange{}, err
		}
	}
	if id.Mode == ModeIRSA {
		arn, err := c.roles.RoleARN(ctx, req.Namespace, req.ServiceAccount)
		if err != nil {
			return Identity{}, exchange{}, err
		}
		if err := checkRoleARN(arn, req.Namespace, req.ServiceAccount); err != nil {
			return Identity{}, exchange{}, err
		}
		id.RoleARN = arn
	}
	return id, exchange{token: tok.Token, preferredAddressType: req.PreferredAddressType, failoverRegion: req.FailoverRegion}, nil
}

// flightContext bounds one shared exchange. It is detached from the caller
// that starts it: that caller's cancellation must not fail the others
// waiting, and an exchange cut short by one Mount's deadline would be lost
// for the Mounts that come next. It ends after fetchBudget, or a little
// before the starting caller's own deadline when that leaves at least
// minFlight (5s): the caller then reads the exchange's own cause (the agent
// not answering, STS failing in both regions) rather than a bare timeout
// of its wait. Mounts share one deadline (the server's mount timeout), so
// the first caller's is the earliest of those joined.
func (c *Credentials) flightContext(ctx context.Context) (context.Context, context.CancelFunc) {
	budget := c.fetchBudget
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		budget = min(budget, max(c.minFlight, left-min(left/10, maxDeadlineReserve)))
	}
	return context.WithTimeout(context.WithoutCancel(ctx), budget)
}

// obtain exchanges ex.token for id's credentials and caches them under key.
func (c *Credentials) obtain(ctx context.Context, key string, id Identity, ex exchange) (aws.Credentials, error) {
	var (
		creds aws.Credentials
		err   error
	)
	if id.Mode == ModePodIdentity {
		creds, err = c.podIdentity.Credentials(ctx, id, ex.token, ex.preferredAddressType)
	} else {
		creds, err = c.irsa.Credentials(ctx, id, ex.token, ex.failoverRegion)
	}
	if err != nil {
		return aws.Credentials{}, err
	}
	now := c.now()
	life := creds.Expires.Sub(now)
	if life <= 0 {
		return aws.Credentials{}, failure.New(failure.Unavailable,
			"the %s credentials for ServiceAccount %s/%s expired on arrival (at %s); check the node's clock",
			id.Mode, id.Namespace, id.ServiceAccount, creds.Expires.UTC().Format(time.RFC3339))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache.Add(key, &cached{
		creds:      creds,
		obtainedAt: now,
		refreshAt:  now.Add(life*3/4 - jitter(life/10)),
		staleAt:    creds.Expires.Add(-min(maxStaleMargin, life/5)),
	})
	return creds, nil
}

// Invalidate drops the credentials cached for id (as Resolve returned it)
// if, and only if, they are still those whose access key is accessKeyID and
// were obtained at least minAge ago; it reports whether it dropped them.
// The next Resolve for id then asks STS or the agent again.
//
// The caller calls it when AWS rejected a call signed with these
// credentials, then resolves again and retries once: with minAge 0 for a
// definite credential error (failure.IsCredentialRejected: expired or
// unknown session), and with about a minute for AccessDenied, which is how
// revoked role sessions show but also how a missing permission shows, so a
// persistently denied pod costs at most one more STS or agent call per
// identity per minAge. Credentials already replaced (another key id) are
// left alone, so Mounts that saw the same rejection drop an entry once.
func (c *Credentials) Invalidate(id Identity, accessKeyID string, minAge time.Duration) bool {
	key := id.Key()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache.Peek(key)
	if !ok || accessKeyID == "" || e.creds.AccessKeyID != accessKeyID || c.now().Sub(e.obtainedAt) < minAge {
		return false
	}
	c.cache.Remove(key)
	return true
}

// refreshAhead starts one background refresh of key (none if one is in
// flight) while the current credentials are still served. After a refusal
// (the role or association no longer accepts this identity) the entry is
// dropped, so the next Mount asks again and reports the cause; after any
// other failure the old credentials stay until stale, and the refresh is
// retried after retryAfter.
func (c *Credentials) refreshAhead(key string, id Identity, ex exchange, old *cached) {
	c.group.DoChan(key, func() (any, error) {
		ctx, cancel := c.flightContext(context.Background())
		defer cancel()
		creds, err := c.obtain(ctx, key, id, ex)
		if err == nil {
			return creds, nil
		}
		klog.ErrorS(err, "refreshing credentials ahead of expiry failed", "mode", id.Mode,
			"namespace", id.Namespace, "serviceAccount", id.ServiceAccount, "role", id.RoleARN, "region", id.Region)
		c.mu.Lock()
		defer c.mu.Unlock()
		if cur, ok := c.cache.Peek(key); ok && cur == old {
			switch failure.KindOf(err) {
			case failure.PermissionDenied, failure.Unauthenticated, failure.FailedPrecondition, failure.InvalidArgument:
				c.cache.Remove(key)
			default:
				next := *old
				next.retryAt = c.now().Add(c.retryAfter)
				c.cache.Add(key, &next)
			}
		}
		return nil, err
	})
}

// static yields creds and nothing else.
func static(creds aws.Credentials) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
}

// jitter returns a random duration in [0, max).
func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(max)))
}
