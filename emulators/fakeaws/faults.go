package fakeaws

import (
	"net/http"
	"strings"
	"time"
)

// Fault makes matching requests slow or fail before the fake looks at them.
// Empty Region, Service ("secretsmanager", "ssm", "sts") or Operation match
// anything.
//
// What a matching request gets:
//   - Delay > 0: it waits that long first (a client deadline shorter than
//     Delay sees a timeout); with no Status and no Code it then proceeds
//     normally.
//   - Status >= 500 without Code: the service's internal error
//     (InternalServiceError for Secrets Manager, InternalServerError for
//     SSM, InternalFailure for STS).
//   - Status 4xx (or 429) without Code: throttling, as AWS sends it: HTTP 400
//     with ThrottlingException (Throttling for STS).
//   - Code without Status: HTTP 500 for internal error codes, else 400.
//
// Count > 0 limits the fault to that many requests; 0 keeps it until
// ClearFaults.
type Fault struct {
	Region    string
	Service   string
	Operation string
	Status    int
	Code      string
	Message   string
	Delay     time.Duration
	Count     int
}

// Inject adds a fault. Faults are tried in the order injected; the first
// that matches a request applies.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns a copy of the first fault matching the request and
// uses up one of its Count. Caller holds s.mu.
func (s *Server) takeFault(region, service, op string) *Fault {
	for i, f := range s.faults {
		if (f.Region != "" && f.Region != region) ||
			(f.Service != "" && f.Service != service) ||
			(f.Operation != "" && f.Operation != op) {
			continue
		}
		out := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

// apiError is the error the fault answers with, or nil for a delay only.
func (f *Fault) apiError(service string) *apiError {
	if f.Status == 0 && f.Code == "" {
		return nil
	}
	status, code, msg := f.Status, f.Code, f.Message
	if code == "" {
		if status >= 500 {
			code = map[string]string{
				ServiceSecretsManager: "InternalServiceError",
				ServiceSSM:            "InternalServerError",
				ServiceSTS:            "InternalFailure",
			}[service]
		} else {
			code = "ThrottlingException"
			if service == ServiceSTS {
				code = "Throttling"
			}
			status = http.StatusBadRequest
		}
	}
	if status == 0 {
		status = http.StatusBadRequest
		if strings.HasPrefix(code, "Internal") || code == "ServiceUnavailable" {
			status = http.StatusInternalServerError
		}
	}
	if msg == "" {
		switch {
		case strings.HasPrefix(code, "Throttling"):
			msg = "Rate exceeded"
		case status >= 500:
			msg = "We encountered an internal error. Please try again."
		default:
			msg = "fakeaws: injected " + code
		}
	}
	return &apiError{Status: status, Code: code, Message: msg}
}
