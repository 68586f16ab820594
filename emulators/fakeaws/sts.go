package fakeaws

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// webIdentityAudience is the audience IRSA tokens carry and STS expects.
const webIdentityAudience = "sts.amazonaws.com"

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]*$`)
)

func stsValidation(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "ValidationError", format, args...)
}

// sts runs one STS operation (query protocol). Caller holds s.mu.
func (s *Server) sts(c *call) (any, *apiError) {
	switch c.op {
	case "AssumeRoleWithWebIdentity":
		return s.assumeRoleWithWebIdentity(c)
	case "AssumeRole":
		return s.assumeRole(c)
	case "GetCallerIdentity":
		if e := s.authenticate(c); e != nil {
			return nil, e
		}
		return s.getCallerIdentity(c), nil
	}
	return nil, errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version 2011-06-15", c.op)
}

type stsCredentials struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

type assumedRoleUser struct {
	Arn           string
	AssumedRoleId string
}

type assumeRoleWithWebIdentityResult struct {
	Credentials                 stsCredentials
	SubjectFromWebIdentityToken string
	AssumedRoleUser             assumedRoleUser
	Provider                    string `xml:",omitempty"`
	Audience                    string
}

// jwtClaims are the claims STS reads. aud may be a string or a list.
type jwtClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
}

func (j *jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(j.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(j.Aud, &many)
	return many
}

// parseJWT decodes the claims of a JWT. The signature is not verified: the
// fake has no OIDC provider keys.
func parseJWT(token string) (*jwtClaims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	for _, p := range parts[:2] {
		if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "=")); err != nil {
			return nil, false
		}
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	var claims jwtClaims
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	return &claims, true
}

func (s *Server) assumeRoleWithWebIdentity(c *call) (any, *apiError) {
	roleARN := c.form.Get("RoleArn")
	sessionName := c.form.Get("RoleSessionName")
	token := c.form.Get("WebIdentityToken")
	c.resources = append(c.resources, roleARN)

	switch {
	case len(sessionName) < 2:
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: "+
			"Member must have length greater than or equal to 2", sessionName)
	case len(sessionName) > 64:
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: "+
			"Member must have length less than or equal to 64", sessionName)
	case !sessionNamePattern.MatchString(sessionName):
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: "+
			`Member must satisfy regular expression pattern: [\w+=,.@-]*`, sessionName)
	case len(roleARN) < 20:
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: "+
			"Member must have length greater than or equal to 20", roleARN)
	case !roleARNPattern.MatchString(roleARN):
		return nil, stsValidation("Request ARN is invalid")
	case len(token) < 4:
		return nil, stsValidation("1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: " +
			"Member must have length greater than or equal to 4")
	}
	var requested time.Duration
	if d := c.form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 43200 {
			return nil, stsValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: "+
				"Member must have value between 900 and 43200", d)
		}
		requested = time.Duration(n) * time.Second
	}

	claims, ok := parseJWT(token)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidIdentityToken", "The web identity token is not a valid JWT.")
	}
	if !slices.ContainsFunc(claims.audiences(), func(a string) bool { return slices.Contains(s.oidcAudiences, a) }) {
		return nil, errorf(http.StatusBadRequest, "InvalidIdentityToken", "Incorrect token audience")
	}
	if claims.Exp == nil {
		return nil, errorf(http.StatusBadRequest, "InvalidIdentityToken", "The web identity token has no expiration (exp) claim.")
	}
	if now := c.now.Unix(); float64(now) >= *claims.Exp {
		return nil, errorf(http.StatusBadRequest, "ExpiredTokenException",
			"Token expired: current date/time %d must be before the expiration date/time %d", now, int64(*claims.Exp))
	}
	if !s.trusts(roleARN, claims.Sub) || s.deniesAssume(roleARN) {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	}

	sess := s.newSession(roleARN, sessionName, claims.Sub, requested)
	c.sess = sess
	return &assumeRoleWithWebIdentityResult{
		Credentials: stsCredentials{
			AccessKeyId:     sess.akid,
			SecretAccessKey: sess.secret,
			SessionToken:    sess.token,
			Expiration:      sess.expires.UTC().Format(time.RFC3339),
		},
		SubjectFromWebIdentityToken: claims.Sub,
		AssumedRoleUser:             assumedRoleUser{Arn: sess.assumedARN, AssumedRoleId: sess.assumedID},
		Provider:                    claims.Iss,
		Audience:                    claims.audiences()[0],
	}, nil
}

// deniesAssume reports whether DenyAction(roleARN, "sts:AssumeRoleWithWebIdentity")
// was set. Caller holds s.mu.
func (s *Server) deniesAssume(roleARN string) bool {
	for _, d := range s.denies {
		if d.roleARN == roleARN && d.kind == "" && (d.action == "" || globMatch(d.action, "sts:AssumeRoleWithWebIdentity")) {
			return true
		}
	}
	return false
}

type getCallerIdentityResult struct {
	UserId  string
	Account string
	Arn     string
}

func (s *Server) getCallerIdentity(c *call) *getCallerIdentityResult {
	if c.sess != nil {
		account, _ := splitRoleARN(c.sess.roleARN)
		return &getCallerIdentityResult{UserId: c.sess.assumedID, Account: account, Arn: c.sess.assumedARN}
	}
	return &getCallerIdentityResult{
		UserId:  c.auth.accessKeyID,
		Account: AccountID,
		Arn:     "arn:aws:iam::" + AccountID + ":user/fakeaws",
	}
}

// writeXML answers a query-protocol call: <OpResponse><OpResult>...</OpResult>.
func writeXML(w http.ResponseWriter, op string, result any) {
	b, err := xml.Marshal(result)
	if err != nil {
		writeXMLError(w, errorf(http.StatusInternalServerError, "InternalFailure", "fakeaws: encode response: %v", err))
		return
	}
	// xml.Marshal names the root after the Go type; rename it to OpResult.
	start := strings.IndexByte(string(b), '>')
	end := strings.LastIndex(string(b), "</")
	inner := string(b[start+1 : end])
	var sb strings.Builder
	sb.WriteString(`<` + op + `Response xmlns="` + stsNamespace + `">`)
	sb.WriteString(`<` + op + `Result>` + inner + `</` + op + `Result>`)
	sb.WriteString(`<ResponseMetadata><RequestId>` + newUUID() + `</RequestId></ResponseMetadata>`)
	sb.WriteString(`</` + op + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(sb.String()))
}

func writeXMLError(w http.ResponseWriter, e *apiError) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(e.Message))
	body := `<ErrorResponse xmlns="` + stsNamespace + `"><Error><Type>` + typ + `</Type><Code>` + e.Code +
		`</Code><Message>` + msg.String() + `</Message></Error><RequestId>` + newUUID() + `</RequestId></ErrorResponse>`
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(body))
}
