package fakeaws

import (
	"net/http"
	"strconv"
	"time"
)

// roleTrust is one rule of a target role's trust policy for sts:AssumeRole:
// who may assume it, and the external ID they must present ("" = none).
type roleTrust struct {
	caller     string // the caller's role ARN; '*' and '?' match
	externalID string
}

// TrustRole lets sessions of callerRole (a pattern) assume targetRole with
// sts:AssumeRole, presenting externalID when it is not "". A role with no
// TrustRole rule may be assumed by any caller, as in moto.
func (s *Server) TrustRole(targetRole, callerRole, externalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roleTrust[targetRole] = append(s.roleTrust[targetRole], roleTrust{caller: callerRole, externalID: externalID})
}

// SetOIDCAudiences sets the audiences the fake's OIDC provider accepts in
// AssumeRoleWithWebIdentity tokens (default sts.amazonaws.com), as the
// client IDs of an IAM OIDC provider do.
func (s *Server) SetOIDCAudiences(audiences ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oidcAudiences = audiences
}

type assumeRoleResult struct {
	Credentials     stsCredentials
	AssumedRoleUser assumedRoleUser
}

// assumeRole is sts:AssumeRole: a signed call by a session the fake issued,
// allowed by the target role's TrustRole rules (and its external ID) and
// not denied by DenyAction(callerRole, "sts:AssumeRole").
func (s *Server) assumeRole(c *call) (any, *apiError) {
	if e := s.authenticate(c); e != nil {
		return nil, e
	}
	roleARN, sessionName, ext := c.form.Get("RoleArn"), c.form.Get("RoleSessionName"), c.form.Get("ExternalId")
	c.resources = append(c.resources, roleARN)
	if e := validateSession(roleARN, sessionName); e != nil {
		return nil, e
	}
	requested, e := requestedDuration(c.form.Get("DurationSeconds"))
	if e != nil {
		return nil, e
	}
	caller := "" // a key the fake did not issue (allowed unless RequireKnownCredentials)
	if c.sess != nil {
		caller = c.sess.roleARN
	}
	if !s.trustsCaller(roleARN, caller, ext) {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", callerARN(c), roleARN)
	}
	if e := s.authorize(c, "sts:AssumeRole", "", "", ""); e != nil {
		return nil, e
	}
	sess := s.newSession(roleARN, sessionName, "", requested)
	return &assumeRoleResult{
		Credentials: stsCredentials{
			AccessKeyId: sess.akid, SecretAccessKey: sess.secret, SessionToken: sess.token,
			Expiration: sess.expires.UTC().Format(time.RFC3339),
		},
		AssumedRoleUser: assumedRoleUser{Arn: sess.assumedARN, AssumedRoleId: sess.assumedID},
	}, nil
}

func callerARN(c *call) string {
	if c.sess != nil {
		return c.sess.assumedARN
	}
	return "an unknown principal"
}

// trustsCaller applies TrustRole rules. Caller holds s.mu.
func (s *Server) trustsCaller(target, caller, externalID string) bool {
	rules, ok := s.roleTrust[target]
	if !ok {
		return true
	}
	for _, r := range rules {
		if globMatch(r.caller, caller) && (r.externalID == "" || r.externalID == externalID) {
			return true
		}
	}
	return false
}

// validateSession checks a role ARN and a session name as STS does.
func validateSession(roleARN, sessionName string) *apiError {
	switch {
	case len(sessionName) < 2 || len(sessionName) > 64 || !sessionNamePattern.MatchString(sessionName):
		return stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: "+
			`Member must have length between 2 and 64 and satisfy regular expression pattern: [\w+=,.@-]*`, sessionName)
	case !roleARNPattern.MatchString(roleARN):
		return stsValidation("Request ARN is invalid")
	}
	return nil
}

// requestedDuration reads DurationSeconds (0 = STS's default).
func requestedDuration(d string) (time.Duration, *apiError) {
	if d == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(d)
	if err != nil || n < 900 || n > 43200 {
		return 0, stsValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: "+
			"Member must have value between 900 and 43200", d)
	}
	return time.Duration(n) * time.Second, nil
}
