package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// Retries of the agent. The backoff before attempt n+1 is a random duration
// in [0, min(agentBackoffCap, agentBackoffBase*2^(n-1))) ("full jitter"), so
// that Mounts that failed together do not come back together.
const (
	agentBackoffBase = 100 * time.Millisecond
	agentBackoffCap  = 2 * time.Second
	// agentBudget bounds the attempts of a caller without a deadline.
	agentBudget = 30 * time.Second
)

// transportError is a failure to get any HTTP answer from one endpoint: the
// only failure after which "auto" tries the IPv6 endpoint. Retried.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// readError is an answer cut short while its body was read. Retried, at the
// same endpoint (it did answer).
type readError struct{ err error }

func (e *readError) Error() string { return "reading the agent's answer: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// attemptCause says "no answer within 1s" for an attempt that ran out of its
// own time while the caller still had some, and err otherwise.
func attemptCause(parent context.Context, err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
		return fmt.Errorf("no answer within %v: %w", timeout, context.DeadlineExceeded)
	}
	return err
}

// retryable reports whether an attempt that failed with err may be made
// again: no HTTP answer, an answer cut short, 429 or 5xx. Any other 4xx is
// the agent's considered answer, and so is a 200 that is not credentials.
func retryable(err error) bool {
	var te *transportError
	var re *readError
	var ae *agentError
	switch {
	case errors.As(err, &te), errors.As(err, &re):
		return true
	case errors.As(err, &ae):
		return ae.status == http.StatusTooManyRequests || ae.status >= 500
	}
	return false
}

// Credentials implements Provider: it asks the agent at the class's
// preferred address type.
func (p *PodIdentity) Credentials(ctx context.Context, id Identity, token string, m *request.Mount) (aws.Credentials, error) {
	return p.exchange(ctx, id, token, m.Class.PreferredAddressType)
}

var _ Provider = (*PodIdentity)(nil)

// exchange asks the agent for id's credentials with token.
// preferredAddressType "ipv4" or "ipv6" (any case) uses only that endpoint;
// anything else is auto: IPv4, then IPv6 if IPv4 gave no HTTP answer at all
// (once an endpoint answers, later attempts go to it alone).
//
// A failed attempt is retried with backoff within ctx's deadline (or
// agentBudget without one) when the agent gave no answer, answered too
// late, or answered 429 or 5xx; any other 4xx is returned at once. The
// first attempt may take the HTTPTimeout option, each next one twice the
// one before. The error after the last attempt says how many were made
// and the last cause; never the token.
func (p *PodIdentity) exchange(ctx context.Context, id Identity, token, preferredAddressType string) (aws.Credentials, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, agentBudget)
		defer cancel()
	}
	endpoints := p.endpoints(preferredAddressType)
	began := time.Now()
	timeout := p.timeout
	var last, lastAnswer error // the last cause, and the last retryable HTTP answer
	var lastEndpoint string
	for attempt := 1; ; attempt++ {
		c, ep, err := p.attempt(ctx, endpoints, token, timeout)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil && last != nil {
			// Cut short by the caller: the cause before says more.
			return aws.Credentials{}, p.giveUp(id, token, attempt, time.Since(began), last, lastAnswer, lastEndpoint)
		}
		last = err
		if ep != "" {
			endpoints, lastEndpoint = []string{ep}, ep // it answered: keep to it
			lastAnswer = err
		}
		if !retryable(err) {
			return aws.Credentials{}, redact(p.classify(id, ep, err, attempt), token)
		}
		if !sleep(ctx, fullJitter(attempt)) {
			return aws.Credentials{}, p.giveUp(id, token, attempt, time.Since(began), last, lastAnswer, lastEndpoint)
		}
		timeout = min(2*timeout, agentBudget) // the deadline caps it too
	}
}

// endpoints lists the endpoints preferredAddressType allows, in order.
func (p *PodIdentity) endpoints(preferredAddressType string) []string {
	switch strings.ToLower(preferredAddressType) {
	case "ipv4":
		return []string{p.v4}
	case "ipv6":
		return []string{p.v6}
	}
	return []string{p.v4, p.v6}
}

// attempt asks each endpoint in turn, moving on only when one gives no HTTP
// answer. It returns the endpoint that answered ("" when none did); its
// error is that endpoint's, or all of their transport errors.
func (p *PodIdentity) attempt(ctx context.Context, endpoints []string, token string, timeout time.Duration) (aws.Credentials, string, error) {
	var errs []error
	for _, ep := range endpoints {
		c, err := p.ask(ctx, ep, token, timeout)
		var te *transportError
		if !errors.As(err, &te) {
			return c, ep, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, err))
		if ctx.Err() != nil {
			break
		}
	}
	return aws.Credentials{}, "", &transportError{err: errors.Join(errs...)}
}

// giveUp builds the error after the last attempt: the agent's last
// retryable answer if it ever answered, else that it did not answer.
func (p *PodIdentity) giveUp(id Identity, token string, attempts int, took time.Duration, last, lastAnswer error, endpoint string) error {
	if lastAnswer != nil {
		return redact(p.classify(id, endpoint, lastAnswer, attempts), token)
	}
	kind := failure.Unavailable
	if errors.Is(last, context.DeadlineExceeded) {
		kind = failure.Timeout
	}
	// The cause is quoted, not wrapped: failure.Describe would read a
	// deadline in the chain as "timed out waiting for AWS".
	return redact(failure.New(kind,
		"getting EKS Pod Identity credentials for ServiceAccount %s/%s: the agent did not answer after %s in %v "+
			"(is the eks-pod-identity-agent add-on running on this node?); last: %v",
		id.Namespace, id.ServiceAccount, plural(attempts, "attempt"), took.Round(time.Millisecond), last), token)
}

// plural says "1 attempt", "2 attempts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fullJitter is the backoff after attempt n (from 1).
func fullJitter(n int) time.Duration {
	ceiling := agentBackoffCap
	if n < 16 {
		ceiling = min(agentBackoffCap, agentBackoffBase<<(n-1))
	}
	return jitter(ceiling)
}

// sleep waits d, and reports false instead when ctx ends first or its
// deadline would not leave time for another attempt after d.
func sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
