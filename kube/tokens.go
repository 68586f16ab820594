package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// tokenLifetime is what the daemon asks of a requested token: the API
// server's minimum. It is reused for four fifths of it.
const tokenLifetime = 10 * time.Minute

// podTokens remembers the tokens the daemon requested, per pod and
// audience, so that a pod's republishes do not each cost a TokenRequest.
type podTokens struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, request.Token]
	now func() time.Time
}

func newPodTokens(now func() time.Time) *podTokens {
	l, _ := simplelru.NewLRU[string, request.Token](4096, nil)
	return &podTokens{lru: l, now: now}
}

// tokenRequestBody is the part of an authentication.k8s.io/v1 TokenRequest
// the daemon sends and reads (its own small type: the daemon links no API
// group it does not need).
type tokenRequestBody struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Audiences         []string `json:"audiences"`
		ExpirationSeconds int64    `json:"expirationSeconds"`
		BoundObjectRef    struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			UID        string `json:"uid"`
		} `json:"boundObjectRef"`
	} `json:"spec"`
	Status struct {
		Token               string    `json:"token"`
		ExpirationTimestamp time.Time `json:"expirationTimestamp"`
	} `json:"status"`
}

// PodToken returns a token of pod's ServiceAccount for audience, bound to
// the pod (a TokenRequest with the pod as bound object: it dies with the
// pod), from the ones requested before while they have a fifth of their
// life left. It serves --token-request-fallback (auth.TokenRequester), for
// drivers installed without the tokenRequests the pod's mode needs; the
// daemon's ClusterRole then allows create on serviceaccounts/token.
func (c *Client) PodToken(ctx context.Context, pod request.Pod, audience string) (request.Token, error) {
	k := pod.UID + "\x00" + audience
	if t, ok := c.tokens.get(k); ok {
		return t, nil
	}
	t, err := c.api.requestToken(ctx, pod, audience)
	if err != nil {
		return request.Token{}, err
	}
	c.tokens.put(k, t)
	return t, nil
}

func (p *podTokens) get(k string) (request.Token, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.lru.Get(k)
	if !ok || !p.now().Before(t.Expiration.Add(-tokenLifetime/5)) {
		return request.Token{}, false
	}
	return t, true
}

func (p *podTokens) put(k string, t request.Token) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lru.Add(k, t)
}

func (a *api) requestToken(ctx context.Context, pod request.Pod, audience string) (request.Token, error) {
	var in tokenRequestBody
	in.APIVersion, in.Kind = "authentication.k8s.io/v1", "TokenRequest"
	in.Spec.Audiences = []string{audience}
	in.Spec.ExpirationSeconds = int64(tokenLifetime / time.Second)
	ref := &in.Spec.BoundObjectRef
	ref.APIVersion, ref.Kind, ref.Name, ref.UID = "v1", "Pod", pod.Name, pod.UID
	body, err := json.Marshal(&in)
	if err != nil {
		return request.Token{}, fmt.Errorf("kube: encoding a TokenRequest: %w", err)
	}
	path := fmt.Sprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token", pod.Namespace, pod.ServiceAccount)
	var out tokenRequestBody
	if err := a.do(ctx, a.rest.Post().AbsPath(path).Body(body), &out); err != nil {
		return request.Token{}, kubeError(err, "a token of ServiceAccount", pod.Namespace+"/"+pod.ServiceAccount,
			"with --token-request-fallback the daemon's ClusterRole must allow create on serviceaccounts/token (the chart's tokenRequestFallback value adds it)")
	}
	if out.Status.Token == "" {
		return request.Token{}, failure.New(failure.Unavailable, "the API server answered the TokenRequest for ServiceAccount %s/%s without a token", pod.Namespace, pod.ServiceAccount)
	}
	return request.Token{Token: out.Status.Token, Expiration: out.Status.ExpirationTimestamp}, nil
}
