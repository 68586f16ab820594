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
	// Chain assumes classes' cross-account roles (assumeRoleArn); nil: a
	// class that names one fails saying this daemon does not offer them.
	Chain *Chain
	// Tokens requests a pod-bound token when the driver sent none for the
	// audience a mode needs (--token-request-fallback); nil: such a Mount
	// fails saying which tokenRequests audience to add.
	Tokens TokenRequester
	// Scope is ScopeIdentity ("" too) or ScopePod.
	Scope ScopeMode
	// Clock is the time source; default time.Now.
	Clock func() time.Time
	// Observer is told the outcome of every exchange (metrics); optional.
	Observer ExchangeObserver
}

// ExchangeObserver counts the exchanges for credentials: of pods' tokens,
// with STS or the Pod Identity agent, and the hops into cross-account roles
// (package server's metrics). It is told the exchange (Exchanges) and the
// outcome, nothing about who asked.
type ExchangeObserver interface {
	// ObserveCredentialRefresh counts one exchange, first or ahead of
	// expiry; outcome is "ok" or the failure's kind (failure.Kind.String()).
	ObserveCredentialRefresh(exchange, outcome string)
}

// ExchangeAssumeRole names, for the observer, the hop from an identity's own
// credentials into a class's assumeRoleArn.
const ExchangeAssumeRole = "assume-role"

// Exchanges lists the exchanges the observer may be told of: each mode's,
// then the cross-account hop.
func Exchanges() []string {
	var out []string
	for _, m := range Modes() {
		out = append(out, string(m.Name()))
	}
	return append(out, ExchangeAssumeRole)
}

// Credentials resolves a Mount's identity and its AWS credentials, caching
// the credentials per identity key (Identity.Key). Safe for concurrent use.
type Credentials struct {
	roles     Roles
	providers map[Mode]Provider
	chain     *Chain
	tokens    TokenRequester
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
		roles: opts.Roles, providers: opts.Providers, chain: opts.Chain, tokens: opts.Tokens, now: opts.Clock,
		perPod: scope == ScopePod, observer: opts.Observer,
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
	creds, err := c.credentials(ctx, id, ex)
	if err != nil {
		return Identity{}, nil, err
	}
	return id, static(creds), nil
}

// credentials returns id's credentials, cached: its mode's, or with a
// cross-account role (id.AssumeRoleARN), those assumed into it with its
// mode's (each cached under its own key, each refreshed ahead).
func (c *Credentials) credentials(ctx context.Context, id Identity, ex exchange) (aws.Credentials, error) {
	base := id.base()
	own := func(ctx context.Context) (aws.Credentials, error) {
		return c.providers[base.Mode].Credentials(ctx, base, ex.token, ex.mount)
	}
	if id.AssumeRoleARN == "" {
		return c.cached(ctx, base, own)
	}
	return c.cached(ctx, id, func(ctx context.Context) (aws.Credentials, error) {
		return c.chained(ctx, id, ex, own)
	})
}

// chained assumes the class's role with the identity's own credentials.
// When STS rejects those as expired or unknown, they are dropped and the
// hop is tried once more with new ones.
func (c *Credentials) chained(ctx context.Context, id Identity, ex exchange, own func(context.Context) (aws.Credentials, error)) (aws.Credentials, error) {
	if c.chain == nil {
		return aws.Credentials{}, failure.New(failure.FailedPrecondition, "this daemon does not offer cross-account roles (assumeRoleArn)")
	}
	ar, failover := ex.mount.Class.AssumeRole, ex.mount.Class.FailoverRegion
	for attempt := 0; ; attempt++ {
		base, err := c.cached(ctx, id.base(), own)
		if err != nil {
			return aws.Credentials{}, err
		}
		creds, err := c.chain.assume(ctx, id, base, ar, failover)
		if err == nil || attempt > 0 || !failure.IsCredentialRejected(err) || !c.Invalidate(id.base(), base.AccessKeyID, 0) {
			return creds, err
		}
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
	audience, err := mode.audienceFor(m.Class)
	if err != nil {
		return Identity{}, exchange{}, err
	}
	tok, err := c.checkedToken(ctx, m, audience)
	if err != nil {
		return Identity{}, exchange{}, err
	}
	if mode.role {
		if id.RoleARN, err = c.role(ctx, pod); err != nil {
			return Identity{}, exchange{}, err
		}
	}
	if ar := m.Class.AssumeRole; ar != nil {
		id.AssumeRoleARN, id.externalID = ar.ARN, ar.ExternalID
	}
	return id, exchange{token: tok, mount: m}, nil
}

// checkedToken returns the pod's token for audience after CheckToken (and,
// with the per-pod scope, the check of its pod claim).
func (c *Credentials) checkedToken(ctx context.Context, m *request.Mount, audience string) (string, error) {
	pod := m.Pod
	tok, ok := m.Tokens[audience]
	if !ok || tok.Token == "" {
		if c.tokens == nil {
			return "", failure.New(failure.FailedPrecondition,
				"no service account token for audience %q in the request; add {audience: %s} to the tokenRequests of CSIDriver secrets-store.csi.k8s.io (or run the daemon with --token-request-fallback)",
				audience, audience)
		}
		var err error
		if tok, err = c.requestToken(ctx, pod, audience); err != nil {
			return "", err
		}
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
