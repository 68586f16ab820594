package fakeaws

// logCap bounds the call log so a long benchmark does not grow the
// process it measures without limit.
const logCap = 10000

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

type callKey struct{ region, name string }

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
