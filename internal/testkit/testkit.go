// Package testkit holds the builders the project's tests, the demo and the
// bench share: service-account tokens shaped like kubelet's, the attributes
// the driver sends with a Mount, and an injectable clock. It is never built
// into the daemon.
package testkit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// JWT returns a compact JWS carrying claims, with a junk signature: the
// daemon never verifies signatures (AWS does), and the fakes read claims.
func JWT(claims map[string]any) string {
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // claims are built by tests from plain values
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "kid": "testkit"}) + "." + enc(claims) + ".c2lnbmF0dXJlLW5vdC1jaGVja2Vk"
}

// Pod names the pod a token is bound to.
type Pod struct {
	Name, UID string
}

// Token describes a service-account token as kubelet's TokenRequest makes
// it for a CSI volume.
type Token struct {
	Namespace, ServiceAccount, Audience string
	Expires                             time.Time
	// Pod, when set, binds the token to that pod (the kubernetes.io pod
	// claim).
	Pod *Pod
	// Issuer defaults to the cluster's ("https://kubernetes.default.svc").
	Issuer string
}

// Claims returns the token's claims.
func (t Token) Claims() map[string]any {
	issuer := t.Issuer
	if issuer == "" {
		issuer = "https://kubernetes.default.svc"
	}
	c := map[string]any{
		"aud": []string{t.Audience},
		"sub": "system:serviceaccount:" + t.Namespace + ":" + t.ServiceAccount,
		"iss": issuer,
		"exp": t.Expires.Unix(),
		"iat": t.Expires.Add(-time.Hour).Unix(),
	}
	k := map[string]any{"namespace": t.Namespace, "serviceaccount": map[string]string{"name": t.ServiceAccount}}
	if t.Pod != nil {
		k["pod"] = map[string]string{"name": t.Pod.Name, "uid": t.Pod.UID}
	}
	c["kubernetes.io"] = k
	return c
}

// String is the token itself.
func (t Token) String() string { return JWT(t.Claims()) }

// Mount describes what the driver sends for one Mount: the pod, the
// SecretProviderClass's parameters and the tokens kubelet requested.
type Mount struct {
	Namespace, Pod, UID, ServiceAccount string
	// Class is the SecretProviderClass's name (default "aws-secrets").
	Class string
	// Params are the class's parameters.
	Params map[string]string
	// Audiences the CSIDriver's tokenRequests name (nil: both the IRSA
	// and the Pod Identity audience; empty: none).
	Audiences []string
	// TokenExpires defaults to an hour from now.
	TokenExpires time.Time
}

// Attributes returns the Mount's attributes JSON, as the driver sends it.
func (m Mount) Attributes() string {
	exp := m.TokenExpires
	if exp.IsZero() {
		exp = time.Now().Add(time.Hour)
	}
	auds := m.Audiences
	if auds == nil {
		auds = []string{"sts.amazonaws.com", "pods.eks.amazonaws.com"}
	}
	uid := m.UID
	if uid == "" {
		uid = "uid-" + m.Pod
	}
	tokens := map[string]map[string]string{}
	for _, a := range auds {
		tok := Token{Namespace: m.Namespace, ServiceAccount: m.ServiceAccount, Audience: a, Expires: exp, Pod: &Pod{Name: m.Pod, UID: uid}}
		tokens[a] = map[string]string{"token": tok.String(), "expirationTimestamp": exp.UTC().Format(time.RFC3339)}
	}
	tj, _ := json.Marshal(tokens)
	class := m.Class
	if class == "" {
		class = "aws-secrets"
	}
	attrs := map[string]string{
		"secretProviderClass":                      class,
		"csi.storage.k8s.io/pod.name":              m.Pod,
		"csi.storage.k8s.io/pod.namespace":         m.Namespace,
		"csi.storage.k8s.io/pod.uid":               uid,
		"csi.storage.k8s.io/serviceAccount.name":   m.ServiceAccount,
		"csi.storage.k8s.io/ephemeral":             "true",
		"csi.storage.k8s.io/serviceAccount.tokens": string(tj),
	}
	for k, v := range m.Params {
		attrs[k] = v
	}
	b, _ := json.Marshal(attrs)
	return string(b)
}

// Clock is an injectable clock, safe for concurrent use.
type Clock struct {
	now atomic.Pointer[time.Time]
}

// NewClock returns a clock that reads start until moved.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.now.Store(&start)
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return *c.now.Load() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.now.Store(&t) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	for {
		old := c.now.Load()
		next := old.Add(d)
		if c.now.CompareAndSwap(old, &next) {
			return
		}
	}
}

// ServeLoopback serves h over plain HTTP on a free port of 127.0.0.1 until
// the returned server is closed, and returns its base URL.
func ServeLoopback(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), nil
}
