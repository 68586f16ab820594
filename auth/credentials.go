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
	"github.com/csi-provider-aws/csi-provider-aws/request"
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

// CredentialsOptions configure NewCredentials.
type CredentialsOptions struct {
	// Roles reads ServiceAccount roles, for the modes that assume one
	// (IRSA). Required when such a mode has a Provider.
	Roles Roles
	// Providers obtain credentials, by mode; a mode without one is not
	// offered by this daemon (its Mounts fail saying so).
	Providers map[Mode]Provider
	// Scope is ScopeIdentity ("" too) or ScopePod.
	Scope ScopeMode
	// Clock is the time source; default time.Now.
	Clock func() time.Time
	// Observer is told the outcome of every exchange (metrics); optional.
	Observer ExchangeObserver
}

// ExchangeObserver counts the exchanges of pods' tokens for credentials,
// with STS or the Pod Identity agent (package server's metrics). It is told
// the mode and the outcome, nothing about who asked.
type ExchangeObserver interface {
	// ObserveCredentialRefresh counts one exchange, first or ahead of
	// expiry; outcome is "ok" or the failure's kind (failure.Kind.String()).
	ObserveCredentialRefresh(mode Mode, outcome string)
}

// Credentials resolves a Mount's identity and its AWS credentials, caching
// the credentials per identity key (Identity.Key). Safe for concurrent use.
type Credentials struct {
	roles     Roles
	providers map[Mode]Provider
	now       func() time.Time
	perPod    bool
	observer  ExchangeObserver

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

// NewCredentials returns a resolver with opts' providers and scope.
func NewCredentials(opts CredentialsOptions) (*Credentials, error) {
	scope, err := ParseScope(string(opts.Scope))
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	for name := range opts.Providers {
		m := modeNamed(name)
		if m == nil {
			return nil, fmt.Errorf("auth: a provider is given for mode %q, which the modes table does not have", name)
		}
		if m.role && opts.Roles == nil {
			return nil, fmt.Errorf("auth: mode %q assumes the ServiceAccount's role, but no Roles were given", name)
		}
	}
	cache, err := lru.New[string, *cached](defaultCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Credentials{
		roles: opts.Roles, providers: opts.Providers, now: opts.Clock, perPod: scope == ScopePod, observer: opts.Observer,
		fetchBudget: defaultFetchBudget, minFlight: defaultMinFlight, retryAfter: defaultRetryAfter,
		cache: cache,
	}, nil
}

// Resolve decides who m acts as and returns credentials for exactly that
// identity. In order: the class's mode (its row in the modes table), the
// token for the mode's audience, CheckToken on it (and, with ScopePod, its
// pod claim against the request's pod), the ServiceAccount's role (modes
// that assume one), then cached credentials for Identity.Key or a new
// exchange by the mode's Provider. A cached credential is served only after this request's own
// token passed CheckToken and, with IRSA, the role read now is the one in
// the key. The returned provider yields only these credentials; it never
// falls back to any other source.
func (c *Credentials) Resolve(ctx context.Context, m *request.Mount) (Identity, aws.CredentialsProvider, error) {
	id, ex, err := c.identify(ctx, m)
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

// exchange is what one Provider call needs besides the Identity: the pod's
// token (never logged) and the Mount (the class's choices).
type exchange struct {
	token string
	mount *request.Mount
}

// identify checks the request and its token and builds the Identity.
func (c *Credentials) identify(ctx context.Context, m *request.Mount) (Identity, exchange, error) {
	pod := m.Pod
	if err := request.CheckPod(pod); err != nil {
		return Identity{}, exchange{}, err
	}
	if m.Region == "" {
		return Identity{}, exchange{}, failure.New(failure.Internal, "credentials were asked for ServiceAccount %s/%s before a region was resolved",
			pod.Namespace, pod.ServiceAccount)
	}
	mode := modeNamed(m.Class.Mode)
	if mode == nil {
		return Identity{}, exchange{}, failure.New(failure.Internal, "the SecretProviderClass asks for auth mode %q, which this daemon does not have", m.Class.Mode)
	}
	if c.providers[mode.name] == nil {
		return Identity{}, exchange{}, failure.New(failure.FailedPrecondition, "this daemon does not offer %s credentials", mode.name)
	}
	id := Identity{
		Mode: mode.name, Namespace: pod.Namespace, ServiceAccount: pod.ServiceAccount,
		Region: m.Region, PodName: pod.Name, PodUID: pod.UID, PerPod: c.perPod,
	}
	if c.perPod && (pod.UID == "" || strings.Contains(pod.UID, "|")) {
		// Without a usable UID the pod could share another pod's entry.
		return Identity{}, exchange{}, failure.New(failure.InvalidArgument,
			"the mount request has no usable %s attribute, which the per-pod cache scope (--cache-scope=pod) needs; the CSIDriver secrets-store.csi.k8s.io must have podInfoOnMount: true",
			request.AttrPodUID)
	}
	tok, err := c.checkedToken(m, mode.audience)
	if err != nil {
		return Identity{}, exchange{}, err
	}
	if mode.role {
		if id.RoleARN, err = c.role(ctx, pod); err != nil {
			return Identity{}, exchange{}, err
		}
	}
	return id, exchange{token: tok, mount: m}, nil
}

// checkedToken returns the pod's token for audience after CheckToken (and,
// with the per-pod scope, the check of its pod claim).
func (c *Credentials) checkedToken(m *request.Mount, audience string) (string, error) {
	pod := m.Pod
	tok, ok := m.Tokens[audience]
	if !ok || tok.Token == "" {
		return "", failure.New(failure.FailedPrecondition,
			"no service account token for audience %q in the request; add {audience: %s} to the tokenRequests of CSIDriver secrets-store.csi.k8s.io",
			audience, audience)
	}
	claims, err := checkToken(tok, audience, pod.Namespace, pod.ServiceAccount, c.now())
	if err != nil {
		return "", err
	}
	if c.perPod {
		if err := checkPodClaim(claims, audience, pod); err != nil {
			return "", err
		}
	}
	return tok.Token, nil
}

// role reads and checks the ServiceAccount's role.
func (c *Credentials) role(ctx context.Context, pod request.Pod) (string, error) {
	arn, err := c.roles.RoleARN(ctx, pod.Namespace, pod.ServiceAccount)
	if err != nil {
		return "", err
	}
	if err := checkRoleARN(arn, pod.Namespace, pod.ServiceAccount); err != nil {
		return "", err
	}
	return arn, nil
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
// Every exchange is counted by the observer, with its outcome.
func (c *Credentials) obtain(ctx context.Context, key string, id Identity, ex exchange) (aws.Credentials, error) {
	creds, err := c.providers[id.Mode].Credentials(ctx, id, ex.token, ex.mount)
	now := c.now()
	life := creds.Expires.Sub(now)
	if err == nil && life <= 0 {
		err = failure.New(failure.Unavailable,
			"the %s credentials for ServiceAccount %s/%s expired on arrival (at %s); check the node's clock",
			id.Mode, id.Namespace, id.ServiceAccount, creds.Expires.UTC().Format(time.RFC3339))
	}
	if c.observer != nil {
		outcome := "ok"
		if err != nil {
			outcome = failure.KindOf(err).String()
		}
		c.observer.ObserveCredentialRefresh(id.Mode, outcome)
	}
	if err != nil {
		return aws.Credentials{}, err
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
