package fakeaws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

const (
	// AccountID owns every ARN the fake makes. moto uses the same default,
	// so ARNs compare equal across the two backends.
	AccountID = "123456789012"

	// GlobalRegion is the region a call is counted under when the request
	// names none: unsigned STS calls to a custom endpoint, or unsigned
	// requests to the other services (which then fail).
	GlobalRegion = "aws-global"

	// Service names as they appear in call keys, faults and the log.
	ServiceSecretsManager = "secretsmanager"
	ServiceSSM            = "ssm"
	ServiceSTS            = "sts"

	// logCap bounds the call log so a long benchmark does not grow the
	// process it measures without limit.
	logCap = 10000
)

// Server is an in-process fake of Secrets Manager, SSM Parameter Store and
// STS. Its zero value is not usable; call New. All methods are safe for
// concurrent use.
type Server struct {
	mu sync.Mutex

	now          func() time.Time
	credLifetime time.Duration
	requireKnown bool

	regions  map[string]*regionState
	sessions map[string]*session // by access key id
	trust    map[string][]string // role ARN -> subject patterns
	denies   []denial
	// revokedBefore: role ARN -> sessions issued until then are denied.
	revokedBefore map[string]time.Time
	faults        []*Fault

	calls    map[callKey]int
	fipsHits map[string]int
	log      []Call

	srv *http.Server
	url string
}

type callKey struct{ region, name string }

// regionState is everything a region holds; regions share nothing.
type regionState struct {
	secrets map[string]*secret    // by name
	params  map[string]*parameter // by name
}

// Call is one request as the fake saw it. It never holds a secret value or
// a credential other than the access key id.
type Call struct {
	Region      string
	Service     string
	Operation   string
	AccessKeyID string   // "" for unsigned requests
	RoleARN     string   // the role the access key was issued for, if the fake issued it
	Resources   []string // secret ids or parameter names as the request named them
	Status      int      // HTTP status sent; 0 if the client went away first
	ErrorCode   string   // "" on success
	FIPS        bool     // the Host header named a -fips endpoint
}

// New returns a server with no data, no faults and no policies.
func New() *Server {
	return &Server{
		now:      time.Now,
		regions:  map[string]*regionState{},
		sessions: map[string]*session{},
		trust:    map[string][]string{},
		calls:    map[callKey]int{},

		revokedBefore: map[string]time.Time{},
		fipsHits:      map[string]int{},
	}
}

var _ http.Handler = (*Server)(nil)

// Start serves plain HTTP on a free port of 127.0.0.1 until Close.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("fakeaws: listen: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.url = "http://" + ln.Addr().String()
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// URL is the base endpoint for every service ("" before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops a started server, dropping open connections.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// SetClock replaces the clock used for credential and token expiry and for
// timestamps. Fault delays always use real time.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Calls counts every request received, keyed "service:Operation"
// ("secretsmanager:GetSecretValue", "sts:AssumeRoleWithWebIdentity"),
// across all regions. Requests rejected by faults, denials or validation
// count too: AWS would have received them.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, n := range s.calls {
		out[k.name] += n
	}
	return out
}

// CallsIn is Calls for one region.
func (s *Server) CallsIn(region string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, n := range s.calls {
		if k.region == region {
			out[k.name] += n
		}
	}
	return out
}

// FIPSCalls counts, like Calls, the requests whose Host header named a
// "-fips" endpoint. With a BaseEndpoint the SDK never picks a FIPS host;
// a test sees these only when it resolves endpoints itself and dials the fake.
func (s *Server) FIPSCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.fipsHits))
	for k, n := range s.fipsHits {
		out[k] = n
	}
	return out
}

// Log returns the most recent requests (at most 10000), oldest first.
func (s *Server) Log() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.log))
	copy(out, s.log)
	return out
}

// ResetCalls zeroes Calls, CallsIn, FIPSCalls and Log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[callKey]int{}
	s.fipsHits = map[string]int{}
	s.log = nil
}

// region returns the state of a region, creating it. Caller holds s.mu.
func (s *Server) region(name string) *regionState {
	r, ok := s.regions[name]
	if !ok {
		r = &regionState{secrets: map[string]*secret{}, params: map[string]*parameter{}}
		s.regions[name] = r
	}
	return r
}

// removeKey deletes key from m and reports whether it was there.
func removeKey[V any](m map[string]V, key string) bool {
	_, ok := m[key]
	delete(m, key)
	return ok
}

// apiError is an AWS error as the wire protocols carry it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// call is one request being served.
type call struct {
	r         *http.Request
	body      []byte
	form      url.Values // query protocol (STS) only
	service   string
	op        string
	region    string
	auth      *sigv4Auth // nil when unsigned
	sess      *session   // the fake-issued session that signed it, if any
	now       time.Time
	resources []string
}

var stsHost = regexp.MustCompile(`^sts(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?::\d+)?$`)

// ServeHTTP answers one AWS API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	c := &call{r: r, body: body}
	c.auth = parseAuthorization(r)
	if e := c.route(); e != nil {
		writeJSONError(w, e)
		return
	}
	c.region = c.requestRegion()
	fips := strings.Contains(r.Host, "-fips")
	fault := s.count(c, fips)

	out, aerr := s.serve(r.Context(), c, fault)

	status, code := c.answer(w, out, aerr)
	s.record(c, fips, status, code)
}

// route names the service and operation: from X-Amz-Target for the JSON
// protocols, from the Action parameter for the query protocol (STS).
func (c *call) route() *apiError {
	target := c.r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "secretsmanager."):
		c.service, c.op = ServiceSecretsManager, strings.TrimPrefix(target, "secretsmanager.")
	case strings.HasPrefix(target, "AmazonSSM."):
		c.service, c.op = ServiceSSM, strings.TrimPrefix(target, "AmazonSSM.")
	case target == "":
		form := queryForm(c.r, c.body)
		if form.Get("Action") == "" {
			return errorf(http.StatusBadRequest, "UnknownOperationException", "request names no X-Amz-Target and no Action")
		}
		c.form = form
		c.service, c.op = ServiceSTS, form.Get("Action")
	default:
		return errorf(http.StatusBadRequest, "UnknownOperationException", "")
	}
	return nil
}

// queryForm is the query protocol's parameters: in a form body, or in the
// URL of a GET (presigned GetCallerIdentity).
func queryForm(r *http.Request, body []byte) url.Values {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		form = url.Values{}
	}
	for k, v := range r.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	return form
}

// requestRegion is the region of the SigV4 credential scope; for an
// unsigned STS request, the one its Host names; else GlobalRegion.
func (c *call) requestRegion() string {
	switch {
	case c.auth != nil && c.auth.region != "":
		return c.auth.region
	case c.service == ServiceSTS:
		if m := stsHost.FindStringSubmatch(c.r.Host); m != nil {
			return m[1]
		}
	}
	return GlobalRegion
}

// count counts the call in Calls and FIPSCalls and takes the fault that
// applies to it, if any.
func (s *Server) count(c *call, fips bool) *Fault {
	name := c.service + ":" + c.op
	s.mu.Lock()
	defer s.mu.Unlock()
	c.now = s.now()
	s.calls[callKey{c.region, name}]++
	if fips {
		s.fipsHits[name]++
	}
	return s.takeFault(c.region, c.service, c.op)
}

// answer writes the outcome in the service's protocol and returns the
// status and error code to log (status 0 when the client went away).
func (c *call) answer(w http.ResponseWriter, out any, aerr *apiError) (status int, code string) {
	switch {
	case aerr == errClientGone:
		return 0, ""
	case aerr != nil:
		if c.service == ServiceSTS {
			writeXMLError(w, aerr)
		} else {
			writeJSONError(w, aerr)
		}
		return aerr.Status, aerr.Code
	case c.service == ServiceSTS:
		writeXML(w, c.op, out)
	default:
		writeJSON(w, out)
	}
	return http.StatusOK, ""
}

// record appends the call to the log, dropping the older half when full.
func (s *Server) record(c *call, fips bool, status int, code string) {
	entry := Call{
		Region: c.region, Service: c.service, Operation: c.op,
		Resources: c.resources, Status: status, ErrorCode: code, FIPS: fips,
	}
	if c.auth != nil {
		entry.AccessKeyID = c.auth.accessKeyID
	}
	if c.sess != nil {
		entry.RoleARN = c.sess.roleARN
	}
	s.mu.Lock()
	if len(s.log) >= logCap {
		s.log = append(s.log[:0], s.log[logCap/2:]...)
	}
	s.log = append(s.log, entry)
	s.mu.Unlock()
}

// errClientGone reports that the client left during an injected delay; no
// answer is written.
var errClientGone = &apiError{Code: "ClientGone"}

// serve applies the fault, authenticates, then runs the operation.
func (s *Server) serve(ctx context.Context, c *call, fault *Fault) (any, *apiError) {
	if fault != nil {
		if fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, errClientGone
			}
		}
		if e := fault.apiError(c.service); e != nil {
			return nil, e
		}
	}

	// Operations run under s.mu; what they return is encoded after it is
	// released, so it must share no mutable state with the server.
	s.mu.Lock()
	defer s.mu.Unlock()
	c.now = s.now()
	switch c.service {
	case ServiceSecretsManager:
		if e := s.authenticate(c); e != nil {
			return nil, e
		}
		return s.secretsManager(c)
	case ServiceSSM:
		if e := s.authenticate(c); e != nil {
			return nil, e
		}
		return s.ssm(c)
	default:
		return s.sts(c)
	}
}

// decode reads a JSON request body into v.
func (c *call) decode(v any) *apiError {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errorf(http.StatusBadRequest, "SerializationException", "could not parse request body: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(w, errorf(http.StatusInternalServerError, "InternalFailure", "fakeaws: encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// epoch is a timestamp in the JSON protocols' epoch-seconds form.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return fmt.Appendf(nil, "%d.%03d", ms/1000, ms%1000), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
