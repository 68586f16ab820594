package fakeaws

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
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
	// roleTrust: target role ARN -> who may sts:AssumeRole it.
	roleTrust map[string][]roleTrust
	// oidcAudiences are the token audiences AssumeRoleWithWebIdentity
	// accepts.
	oidcAudiences []string
	faults        []*Fault

	calls    map[callKey]int
	fipsHits map[string]int
	log      []Call

	srv *http.Server
	url string
}

// regionState is everything a region holds; regions share nothing.
type regionState struct {
	secrets map[string]*secret    // by name
	params  map[string]*parameter // by name
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
		roleTrust:     map[string][]roleTrust{},
		oidcAudiences: []string{webIdentityAudience},
		fipsHits:      map[string]int{},
	}
}

var _ http.Handler = (*Server)(nil)

// Start serves plain HTTP on a free port of 127.0.0.1 until Close.
func (s *Server) Start() error {
	srv, url, err := testkit.ServeLoopback(s)
	if err != nil {
		return fmt.Errorf("fakeaws: %w", err)
	}
	s.mu.Lock()
	s.srv, s.url = srv, url
	s.mu.Unlock()
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
