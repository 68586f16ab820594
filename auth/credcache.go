package auth

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// obtainFunc makes one exchange for an identity's credentials.
type obtainFunc func(ctx context.Context) (aws.Credentials, error)

// cached returns id's credentials from the cache, starting a refresh ahead
// of their expiry in the background when due, or obtains them with obtain:
// one exchange however many Mounts of the identity wait for it.
func (c *Credentials) cached(ctx context.Context, id Identity, obtain obtainFunc) (aws.Credentials, error) {
	key := id.Key()
	now := c.now()
	if e, ok := c.cache.Get(key); ok && now.Before(e.staleAt) {
		if !now.Before(e.refreshAt) && !now.Before(e.retryAt) {
			c.refreshAhead(key, id, obtain, e)
		}
		return e.creds, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		fctx, cancel := c.flightContext(ctx)
		defer cancel()
		return c.obtain(fctx, key, id, obtain)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return aws.Credentials{}, r.Err
		}
		return r.Val.(aws.Credentials), nil
	case <-ctx.Done():
		return aws.Credentials{}, failure.Wrap(failure.Timeout, ctx.Err(),
			"waiting for %s credentials of ServiceAccount %s/%s", id.Mode, id.Namespace, id.ServiceAccount)
	}
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

// obtain makes one exchange for id's credentials and caches them under key.
// Every exchange is counted by the observer, with its outcome.
func (c *Credentials) obtain(ctx context.Context, key string, id Identity, obtain obtainFunc) (aws.Credentials, error) {
	creds, err := obtain(ctx)
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
		c.observer.ObserveCredentialRefresh(id.exchange(), outcome)
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
func (c *Credentials) refreshAhead(key string, id Identity, obtain obtainFunc, old *cached) {
	c.group.DoChan(key, func() (any, error) {
		ctx, cancel := c.flightContext(context.Background())
		defer cancel()
		creds, err := c.obtain(ctx, key, id, obtain)
		if err == nil {
			return creds, nil
		}
		klog.ErrorS(err, "refreshing credentials ahead of expiry failed", "mode", id.Mode,
			"namespace", id.Namespace, "serviceAccount", id.ServiceAccount, "role", id.RoleARN, "assumeRole", id.AssumeRoleARN, "region", id.Region)
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
