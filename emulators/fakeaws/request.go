package fakeaws

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

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
