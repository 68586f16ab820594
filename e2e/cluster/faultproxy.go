//go:build e2e

package cluster

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Fault is what the AWS fault proxy does to a matching request.
type Fault int

const (
	// NoFault forwards the request to moto.
	NoFault Fault = iota
	// ServerFault answers 500 InternalServiceError, which the SDK retries and
	// then reports as a server fault: the failover region should cover it.
	ServerFault
	// ClientFault answers 400 AccessDeniedException, a client fault: the
	// mount should fail and say so, not fail over.
	ClientFault
)

// AWSProxy sits between the daemon and moto. moto serves every region on one
// port, so a region can only be made to fail here: the proxy reads the
// region and service from each request's SigV4 credential scope.
type AWSProxy struct {
	URL string

	srv *http.Server

	mu     sync.Mutex
	faults map[scope]Fault
	calls  map[Call]int
	keys   map[string]int // access key id -> signed requests
}

type scope struct{ region, service string }

// Call identifies requests the proxy saw: region and service come from the
// SigV4 scope (empty for an unsigned call such as
// AssumeRoleWithWebIdentity), operation from X-Amz-Target or Action.
type Call struct {
	Region, Service, Operation string
}

// StartAWSProxy listens on loopback and forwards to target (moto).
func StartAWSProxy(target string) (*AWSProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &AWSProxy{
		URL:    "http://" + l.Addr().String(),
		faults: map[scope]Fault{},
		calls:  map[Call]int{},
		keys:   map[string]int{},
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{Handler: p.handler(rp)}
	go p.srv.Serve(l)
	return p, nil
}

// Close stops the proxy.
func (p *AWSProxy) Close() error { return p.srv.Close() }

// SetFault makes requests for region (and service, "" for every signed
// service) fail with f; NoFault clears it.
func (p *AWSProxy) SetFault(region, service string, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f == NoFault {
		delete(p.faults, scope{region, service})
		return
	}
	p.faults[scope{region, service}] = f
}

// ClearFaults removes every fault.
func (p *AWSProxy) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.faults)
}

// Calls returns how many requests matched region and service ("" matches
// any) so far.
func (p *AWSProxy) Calls(region, service string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c, k := range p.calls {
		if (region == "" || c.Region == region) && (service == "" || c.Service == service) {
			n += k
		}
	}
	return n
}

func (p *AWSProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, region, service := credentialScope(r.Header.Get("Authorization"))
		op := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(op, '.'); i >= 0 {
			op = op[i+1:]
		}
		if op == "" && r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			// Query protocol (STS): the action is in the form body, which
			// ParseForm consumes, so restore it for moto.
			body, err := readAndRestore(r)
			if err == nil {
				if v, err := url.ParseQuery(body); err == nil {
					op = v.Get("Action")
					if service == "" && op != "" {
						service = "sts"
					}
				}
			}
		}
		p.mu.Lock()
		p.calls[Call{region, service, op}]++
		if key != "" {
			p.keys[key]++
		}
		f, ok := p.faults[scope{region, service}]
		if !ok {
			f = p.faults[scope{region, ""}]
		}
		p.mu.Unlock()
		switch f {
		case ServerFault:
			writeAWSError(w, http.StatusInternalServerError, "InternalServiceError",
				fmt.Sprintf("injected server fault in %s", region))
		case ClientFault:
			writeAWSError(w, http.StatusBadRequest, "AccessDeniedException",
				fmt.Sprintf("injected: not authorized to call %s in %s", op, region))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// credentialScope reads region and service from
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/secretsmanager/aws4_request, ...".
func credentialScope(auth string) (accessKey, region, service string) {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", "", ""
	}
	cred, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return "", "", ""
	}
	return parts[0], parts[2], parts[3]
}

// SignedWith counts the requests signed with accessKey.
func (p *AWSProxy) SignedWith(accessKey string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[accessKey]
}

// AccessKeys lists the access key ids requests were signed with.
func (p *AWSProxy) AccessKeys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.keys {
		out = append(out, k)
	}
	return out
}

func readAndRestore(r *http.Request) (string, error) {
	if r.Body == nil {
		return "", nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b), err
}

// writeAWSError answers in the JSON 1.1 protocol both Secrets Manager and SSM
// speak.
func writeAWSError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}
