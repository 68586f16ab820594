package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// Default EKS Pod Identity agent endpoints (the EKS Pod Identity agent's
// documented link-local addresses).
const (
	DefaultPodIdentityIPv4Endpoint = "http://169.254.170.23/v1/credentials"
	DefaultPodIdentityIPv6Endpoint = "http://[fd00:ec2::23]/v1/credentials"
	// DefaultPodIdentityHTTPTimeout is the first attempt's timeout, the
	// daemon's --pod-identity-http-timeout default.
	DefaultPodIdentityHTTPTimeout = time.Second
	maxAgentAnswer                = 64 << 10
)

// PodIdentityOptions configure the agent client; zero values take the
// defaults.
type PodIdentityOptions struct {
	// IPv4Endpoint and IPv6Endpoint are the agent's full credential URLs.
	IPv4Endpoint, IPv6Endpoint string
	// HTTPTimeout bounds the first attempt at one endpoint (default
	// DefaultPodIdentityHTTPTimeout, 1s, as the daemon's
	// --pod-identity-http-timeout). A failed attempt is retried with
	// backoff within the caller's deadline, each attempt allowed twice the
	// time of the one before (1s, 2s, 4s...). So with the defaults an agent
	// that takes a second to answer works: a real eks-pod-identity-agent
	// asks EKS Auth on a cache miss, and the second attempt, allowed 2s,
	// gets its answer (about 2s for the whole exchange).
	HTTPTimeout time.Duration
	// HTTPClient is used as given. Nil means a client of its own that never
	// goes through a proxy: the agent is on the node, and the pod's token
	// must not leave it.
	HTTPClient *http.Client
}

// PodIdentity asks the node's EKS Pod Identity agent for the credentials of
// a pod's ServiceAccount association, with the pod's pods.eks.amazonaws.com
// token.
type PodIdentity struct {
	v4, v6  string
	timeout time.Duration
	client  *http.Client
}

// NewPodIdentity returns an agent client.
func NewPodIdentity(opts PodIdentityOptions) *PodIdentity {
	p := &PodIdentity{v4: opts.IPv4Endpoint, v6: opts.IPv6Endpoint, timeout: opts.HTTPTimeout, client: opts.HTTPClient}
	if p.v4 == "" {
		p.v4 = DefaultPodIdentityIPv4Endpoint
	}
	if p.v6 == "" {
		p.v6 = DefaultPodIdentityIPv6Endpoint
	}
	if p.timeout <= 0 {
		p.timeout = DefaultPodIdentityHTTPTimeout
	}
	if p.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		p.client = &http.Client{Transport: tr}
	}
	return p
}

// agentCredentials is the agent's answer.
type agentCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	AccountID       string `json:"AccountId"`
	Expiration      string `json:"Expiration"`
}

// agentError is an HTTP answer other than 200.
type agentError struct {
	status int
	msg    string
}

func (e *agentError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, e.msg)
}

// classify turns the agent's last answer, after attempts attempts, into
// the error users read.
func (p *PodIdentity) classify(id Identity, endpoint string, err error, attempts int) error {
	who := id.Namespace + "/" + id.ServiceAccount
	var fe *failure.Error
	if errors.As(err, &fe) {
		return err
	}
	if attempts > 1 {
		who += " after " + plural(attempts, "attempt")
	}
	var ae *agentError
	if !errors.As(err, &ae) {
		// Quoted, not wrapped: see giveUp.
		return failure.New(failure.Unavailable, "getting EKS Pod Identity credentials for ServiceAccount %s from %s: %v", who, endpoint, err)
	}
	hint := fmt.Sprintf("ServiceAccount %s/%s needs an EKS Pod Identity association in this cluster (aws eks create-pod-identity-association --namespace %s --service-account %s --role-arn ...), or set usePodIdentity: \"false\" to use IRSA",
		id.Namespace, id.ServiceAccount, id.Namespace, id.ServiceAccount)
	switch {
	case ae.status == http.StatusUnauthorized || ae.status == http.StatusForbidden:
		return failure.Wrap(failure.PermissionDenied, err, "the EKS Pod Identity agent refused credentials for ServiceAccount %s; %s", who, hint)
	case ae.status == http.StatusTooManyRequests:
		return failure.Wrap(failure.Throttled, err, "the EKS Pod Identity agent throttled the request for ServiceAccount %s", who)
	case ae.status >= 400 && ae.status < 500:
		return failure.Wrap(failure.FailedPrecondition, err, "the EKS Pod Identity agent refused credentials for ServiceAccount %s; %s", who, hint)
	default:
		return failure.Wrap(failure.Unavailable, err, "the EKS Pod Identity agent failed to get credentials for ServiceAccount %s", who)
	}
}

// ask makes one attempt at one endpoint, bounded by timeout.
func (p *PodIdentity) ask(ctx context.Context, endpoint, token string, timeout time.Duration) (aws.Credentials, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return aws.Credentials{}, failure.New(failure.FailedPrecondition, "the EKS Pod Identity agent endpoint %q is not a URL", endpoint)
	}
	// The agent expects the raw token, without a scheme.
	req.Header.Set("Authorization", token)
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return aws.Credentials{}, &transportError{err: attemptCause(parent, err, timeout)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAgentAnswer))
	if err != nil {
		return aws.Credentials{}, &readError{err: attemptCause(parent, err, timeout)}
	}
	if resp.StatusCode != http.StatusOK {
		return aws.Credentials{}, &agentError{status: resp.StatusCode, msg: agentMessage(body)}
	}
	var ac agentCredentials
	if err := json.Unmarshal(body, &ac); err != nil {
		return aws.Credentials{}, fmt.Errorf("the agent's answer is not JSON credentials (%s)", request.JSONProblem(err))
	}
	if ac.AccessKeyID == "" || ac.SecretAccessKey == "" {
		return aws.Credentials{}, errors.New("the agent's answer has no AccessKeyId or SecretAccessKey")
	}
	exp, err := time.Parse(time.RFC3339, ac.Expiration)
	if err != nil {
		return aws.Credentials{}, errors.New("the agent's answer has no RFC 3339 Expiration")
	}
	return aws.Credentials{
		AccessKeyID:     ac.AccessKeyID,
		SecretAccessKey: ac.SecretAccessKey,
		SessionToken:    ac.Token,
		Source:          "csi-provider-aws/pod-identity",
		CanExpire:       true,
		Expires:         exp,
		AccountID:       ac.AccountID,
	}, nil
}

// agentMessage extracts the agent's error message: {"code","message"} JSON
// (either case), else the text, shortened.
func agentMessage(body []byte) string {
	var m struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && (m.Code != "" || m.Message != "") {
		switch {
		case m.Code == "":
			return m.Message
		case m.Message == "":
			return m.Code
		}
		return m.Code + ": " + m.Message
	}
	s := strings.TrimSpace(string(body))
	const max = 256
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return s
}
