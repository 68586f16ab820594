package fakeaws

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigv4Auth is the parsed Authorization header of a SigV4-signed request.
type sigv4Auth struct {
	accessKeyID   string
	date          string
	region        string
	service       string
	signedHeaders []string
	signature     string
}

// parseAuthorization reads
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/secretsmanager/aws4_request, SignedHeaders=a;b, Signature=hex"
// and, for presigned URLs, the X-Amz-Credential query parameter. It returns
// nil for unsigned requests.
func parseAuthorization(r *http.Request) *sigv4Auth {
	h := r.Header.Get("Authorization")
	if h == "" {
		if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
			a := &sigv4Auth{}
			a.setCredential(cred)
			a.signedHeaders = strings.Split(r.URL.Query().Get("X-Amz-SignedHeaders"), ";")
			a.signature = r.URL.Query().Get("X-Amz-Signature")
			return a
		}
		return nil
	}
	alg, rest, _ := strings.Cut(h, " ")
	if alg != "AWS4-HMAC-SHA256" {
		return &sigv4Auth{}
	}
	a := &sigv4Auth{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			a.setCredential(v)
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a
}

func (a *sigv4Auth) setCredential(v string) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 {
		return
	}
	a.accessKeyID, a.date, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
}

// authError builds the error each protocol uses for an authentication
// failure; STS (query protocol) names them differently.
func authError(service, kind string) *apiError {
	type pair struct{ json, query string }
	var (
		p       pair
		status  = http.StatusBadRequest
		message string
	)
	switch kind {
	case "missing":
		p = pair{"MissingAuthenticationTokenException", "MissingAuthenticationToken"}
		message = "Missing Authentication Token"
		if service == ServiceSTS {
			status, message = http.StatusForbidden, "Request is missing Authentication Token"
		}
	case "unknown":
		p = pair{"UnrecognizedClientException", "InvalidClientTokenId"}
		message = "The security token included in the request is invalid."
		if service == ServiceSTS {
			status = http.StatusForbidden
		}
	case "expired":
		p = pair{"ExpiredTokenException", "ExpiredToken"}
		message = "The security token included in the request is expired"
	default: // signature
		p = pair{"InvalidSignatureException", "SignatureDoesNotMatch"}
		message = "The request signature we calculated does not match the signature you provided. " +
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
		if service == ServiceSTS {
			status = http.StatusForbidden
		}
	}
	code := p.json
	if service == ServiceSTS {
		code = p.query
	}
	return &apiError{Status: status, Code: code, Message: message}
}

// authenticate checks a signed request. Credentials the fake issued are
// verified completely (session token, expiry, signature); unknown access
// keys pass, as in moto, unless RequireKnownCredentials is on.
// Caller holds s.mu.
func (s *Server) authenticate(c *call) *apiError {
	if c.auth == nil || c.auth.accessKeyID == "" {
		return authError(c.service, "missing")
	}
	sess, ok := s.sessions[c.auth.accessKeyID]
	if !ok {
		if s.requireKnown {
			return authError(c.service, "unknown")
		}
		return nil
	}
	token := c.r.Header.Get("X-Amz-Security-Token")
	if token == "" {
		token = c.r.URL.Query().Get("X-Amz-Security-Token")
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(sess.token)) != 1 {
		return authError(c.service, "unknown")
	}
	if !c.now.Before(sess.expires) {
		return authError(c.service, "expired")
	}
	if !verifySignature(c, sess) {
		return authError(c.service, "signature")
	}
	c.sess = sess
	return nil
}

// verifySignature re-signs the request with the session's secret, using the
// headers the client said it signed, and compares signatures.
func verifySignature(c *call, sess *session) bool {
	a := c.auth
	if a.signature == "" {
		return false
	}
	if c.r.Header.Get("Authorization") == "" {
		// Presigned URLs are not used by the daemon; accept their shape
		// without re-deriving the query-string canonical form.
		return true
	}
	when, err := time.Parse("20060102T150405Z", c.r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	vr, err := http.NewRequest(c.r.Method, "http://"+c.r.Host+c.r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	vr.Host = c.r.Host
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			vr.ContentLength = int64(len(c.body))
		default:
			vr.Header[http.CanonicalHeaderKey(h)] = c.r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(c.body)
	creds := aws.Credentials{AccessKeyID: sess.akid, SecretAccessKey: sess.secret, SessionToken: sess.token}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, vr, hex.EncodeToString(sum[:]), a.service, a.region, when)
	if err != nil {
		return false
	}
	got := parseAuthorization(vr)
	return got != nil && subtle.ConstantTimeCompare([]byte(got.signature), []byte(a.signature)) == 1
}
