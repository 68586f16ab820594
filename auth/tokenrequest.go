package auth

import (
	"context"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// TokenRequester requests a service-account token bound to a pod, for
// drivers installed without the tokenRequests a mode needs (the daemon's
// --token-request-fallback; package kube asks the API server's
// TokenRequest).
type TokenRequester interface {
	PodToken(ctx context.Context, pod request.Pod, audience string) (request.Token, error)
}

// requestToken asks the fallback for a token bound to pod. The pod's name
// and UID must be known: a token bound to another pod, or to none, would
// prove less than the driver's own.
func (c *Credentials) requestToken(ctx context.Context, pod request.Pod, audience string) (request.Token, error) {
	if pod.Name == "" || pod.UID == "" {
		return request.Token{}, failure.New(failure.FailedPrecondition,
			"no service account token for audience %q in the request, and the request names no pod name and UID to bind one to; the CSIDriver secrets-store.csi.k8s.io must have podInfoOnMount: true",
			audience)
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tok, err := c.tokens.PodToken(tctx, pod, audience)
	if err != nil {
		return request.Token{}, failure.Wrap(failure.KindOf(err), err,
			"no service account token for audience %q in the request, and requesting one for pod %s (--token-request-fallback) failed", audience, pod)
	}
	return tok, nil
}
