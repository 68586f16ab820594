package fakeaws

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// defaultCredLifetime is what STS gives when the caller asks for no duration.
const defaultCredLifetime = time.Hour

// session is a set of temporary credentials the fake issued for a role.
type session struct {
	akid, secret, token string
	roleARN             string
	sessionName         string
	assumedARN          string // arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
	assumedID           string // AROA...:SESSION
	subject             string // sub of the web identity token, if any
	issued, expires     time.Time
}

// Credentials are temporary credentials issued by the fake.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	AssumedRoleARN  string // arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
}

// denial is one IAM-like deny rule for a role.
type denial struct {
	roleARN  string
	action   string // pattern, "" = any action
	kind     string // "", "secret" or "parameter"
	resource string // pattern, for kind != ""
}

// Trust lets subject (the token's sub, for example
// "system:serviceaccount:ns:sa"; '*' and '?' match like IAM StringLike)
// assume roleARN with a web identity. A role with no Trust rule may be
// assumed by any subject, as in moto.
func (s *Server) Trust(roleARN, subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trust[roleARN] = append(s.trust[roleARN], subject)
}

// DenyAction makes every signed request by credentials issued for roleARN
// fail with AccessDenied when it needs action ("secretsmanager:GetSecretValue",
// "ssm:GetParameters", "sts:AssumeRoleWithWebIdentity"; '*' allowed).
// Inside BatchGetSecretValue a denied secretsmanager:GetSecretValue shows up
// per secret in Errors, as on AWS.
func (s *Server) DenyAction(roleARN, action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denies = append(s.denies, denial{roleARN: roleARN, action: action})
}

// DenySecret makes every Secrets Manager action on the secret named
// secretName ('*' allowed) fail for credentials issued for roleARN.
func (s *Server) DenySecret(roleARN, secretName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denies = append(s.denies, denial{roleARN: roleARN, kind: "secret", resource: secretName})
}

// DenyParameter makes every SSM action on the parameter named name ('*'
// allowed) fail for credentials issued for roleARN.
func (s *Server) DenyParameter(roleARN, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denies = append(s.denies, denial{roleARN: roleARN, kind: "parameter", resource: name})
}

// ClearPolicies removes every Trust and Deny rule.
func (s *Server) ClearPolicies() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trust = map[string][]string{}
	s.denies = nil
}

// RevokeSessions does what IAM's "Revoke active sessions" does for
// roleARN: every request signed with credentials issued for it until now
// is denied (AccessDenied, "with an explicit deny"); credentials issued
// later work.
func (s *Server) RevokeSessions(roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokedBefore[roleARN] = s.now()
}

// ExpireSessions makes every credential issued so far for roleARN expired:
// AWS answers ExpiredToken(Exception) to requests signed with them.
func (s *Server) ExpireSessions(roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.roleARN == roleARN {
			sess.expires = s.now()
		}
	}
}

// RequireKnownCredentials makes requests signed with access keys the fake
// did not issue fail with UnrecognizedClientException (InvalidClientTokenId
// for STS), as AWS does. Off by default, like moto.
func (s *Server) RequireKnownCredentials(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requireKnown = on
}

// SetCredentialLifetime forces the lifetime of credentials issued from now
// on, overriding any DurationSeconds the caller asked for (so tests can use
// lifetimes below STS's 15-minute minimum). 0 restores STS behaviour:
// DurationSeconds if given, else one hour.
func (s *Server) SetCredentialLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credLifetime = d
}

// IssueCredentials mints credentials for roleARN as if the role had been
// assumed, without a call to STS (and without counting one).
func (s *Server) IssueCredentials(roleARN, sessionName string) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.newSession(roleARN, sessionName, "", 0)
	return sess.credentials()
}

// IssuedSecrets returns the secret access keys and session tokens of every
// credential the fake issued, for tests that scan output for leaks.
func (s *Server) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, sess := range s.sessions {
		out = append(out, sess.secret, sess.token)
	}
	return out
}

// RoleOf tells which role the fake issued accessKeyID for.
func (s *Server) RoleOf(accessKeyID string) (roleARN string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[accessKeyID]
	if !ok {
		return "", false
	}
	return sess.roleARN, true
}

func (sess *session) credentials() Credentials {
	return Credentials{
		AccessKeyID:     sess.akid,
		SecretAccessKey: sess.secret,
		SessionToken:    sess.token,
		Expiration:      sess.expires,
		AssumedRoleARN:  sess.assumedARN,
	}
}

// newSession issues credentials. requested is the DurationSeconds asked
// for (0 = default). Caller holds s.mu.
func (s *Server) newSession(roleARN, sessionName, subject string, requested time.Duration) *session {
	lifetime := defaultCredLifetime
	if requested > 0 {
		lifetime = requested
	}
	if s.credLifetime > 0 {
		lifetime = s.credLifetime
	}
	account, roleName := splitRoleARN(roleARN)
	sum := sha256.Sum256([]byte(roleARN))
	sess := &session{
		akid:        "ASIA" + randomString(16, upperAlnum),
		secret:      randomString(40, secretChars),
		token:       "FwoGZXIvYXdzE" + base64.StdEncoding.EncodeToString(randomBytes(96)),
		roleARN:     roleARN,
		sessionName: sessionName,
		assumedARN:  fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, roleName, sessionName),
		assumedID:   "AROA" + encodeWith(sum[:], upperAlnum, 17) + ":" + sessionName,
		subject:     subject,
		issued:      s.now(),
		expires:     s.now().Add(lifetime).Truncate(time.Second),
	}
	s.sessions[sess.akid] = sess
	return sess
}

// splitRoleARN returns the account and the role name (without path) of
// arn:aws:iam::ACCOUNT:role/path/NAME.
func splitRoleARN(roleARN string) (account, name string) {
	parts := strings.SplitN(roleARN, ":", 6)
	if len(parts) != 6 {
		return AccountID, roleARN
	}
	account = parts[4]
	res := parts[5]
	if i := strings.LastIndex(res, "/"); i >= 0 {
		res = res[i+1:]
	}
	return account, res
}

// authorize applies the Deny rules to a request. resource is the secret or
// parameter name the action touches ("" for actions on no resource) and
// shown is how the error names it. Caller holds s.mu.
func (s *Server) authorize(c *call, action, kind, resource, shown string) *apiError {
	if c.sess == nil {
		return nil
	}
	if t, ok := s.revokedBefore[c.sess.roleARN]; ok && !c.sess.issued.After(t) {
		code, status := "AccessDeniedException", http.StatusBadRequest
		if c.service == ServiceSTS {
			code, status = "AccessDenied", http.StatusForbidden
		}
		return errorf(status, code, "User: %s is not authorized to perform: %s with an explicit deny in an identity-based policy",
			c.sess.assumedARN, action)
	}
	for _, d := range s.denies {
		if d.roleARN != c.sess.roleARN {
			continue
		}
		if d.action != "" && !globMatch(d.action, action) {
			continue
		}
		if d.kind != "" && (d.kind != kind || resource == "" || !globMatch(d.resource, resource)) {
			continue
		}
		return accessDenied(c, action, shown)
	}
	return nil
}

func accessDenied(c *call, action, shown string) *apiError {
	on := ""
	if shown != "" {
		on = " on resource: " + shown
	}
	code := "AccessDeniedException"
	status := http.StatusBadRequest
	if c.service == ServiceSTS {
		code, status = "AccessDenied", http.StatusForbidden
	}
	return errorf(status, code, "User: %s is not authorized to perform: %s%s because no identity-based policy allows the %s action",
		c.sess.assumedARN, action, on, action)
}

// trusts reports whether subject may assume roleARN. Caller holds s.mu.
func (s *Server) trusts(roleARN, subject string) bool {
	rules, ok := s.trust[roleARN]
	if !ok {
		return true
	}
	for _, p := range rules {
		if globMatch(p, subject) {
			return true
		}
	}
	return false
}

// globMatch matches IAM StringLike patterns: '*' any run, '?' one character.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globMatch(pattern[1:], s[1:])
	default:
		return s != "" && s[0] == pattern[0] && globMatch(pattern[1:], s[1:])
	}
}

const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum       = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretChars = alnum + "+/"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	return b
}

func randomString(n int, chars string) string {
	return encodeWith(randomBytes(n), chars, n)
}

// encodeWith maps bytes onto chars; slight bias is fine for a fake.
func encodeWith(b []byte, chars string, n int) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = chars[int(b[i%len(b)]+byte(i/len(b)))%len(chars)]
	}
	return string(out)
}

func newUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
