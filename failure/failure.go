// Package failure is the project's one error taxonomy: every error that can
// end a Mount is classified here into a Kind, which the server maps to a gRPC
// code and a metric label. AWS SDK errors are classified by their modelled
// fault (client or server) and code, and their text is reduced to the code and
// AWS's own message, without request ids.
//
// It must never put a secret value, token or credential in an error: callers
// pass names, regions and causes, never payloads.
package failure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Kind is the class of a failure; it decides the gRPC code the driver sees
// and whether the failover region may cover it.
type Kind int

const (
	// Internal is a bug or an unexpected condition in the daemon.
	Internal Kind = iota
	// InvalidArgument is a bad SecretProviderClass or bad request attributes.
	InvalidArgument
	// PermissionDenied is an AWS or STS denial for the pod's identity.
	PermissionDenied
	// NotFound is a secret, parameter or version that does not exist.
	NotFound
	// FailedPrecondition is a cluster set-up problem the user must fix first:
	// a missing token audience, a ServiceAccount without a role, no region.
	FailedPrecondition
	// Unauthenticated is a token AWS or the daemon refused as invalid or expired.
	Unauthenticated
	// Throttled is AWS throttling left after the SDK's retries.
	Throttled
	// Unavailable is an AWS server fault or a network failure.
	Unavailable
	// Timeout is a deadline reached before AWS answered.
	Timeout
	// TooLarge is an answer larger than the driver accepts.
	TooLarge
)

var kindNames = [...]string{
	Internal:           "Internal",
	InvalidArgument:    "InvalidArgument",
	PermissionDenied:   "PermissionDenied",
	NotFound:           "NotFound",
	FailedPrecondition: "FailedPrecondition",
	Unauthenticated:    "Unauthenticated",
	Throttled:          "Throttled",
	Unavailable:        "Unavailable",
	Timeout:            "Timeout",
	TooLarge:           "TooLarge",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a classified failure. Its message is what users read in
// `kubectl describe pod`: it names the object, the region and the cause.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
	// Causes are errors Msg already summarises (per-object AWS answers):
	// not printed, but errors.As and errors.Is see them, so a caller can
	// still tell, for instance, that AWS rejected the credentials.
	Causes []error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	if e.Msg == "" {
		return Describe(e.Err)
	}
	return e.Msg + ": " + Describe(e.Err)
}

// Unwrap returns Err and the Causes.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 1+len(e.Causes))
	if e.Err != nil {
		out = append(out, e.Err)
	}
	for _, c := range e.Causes {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// New returns a classified error with a formatted message.
func New(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap classifies err as kind and prefixes it with a formatted message.
func Wrap(kind Kind, err error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// WrapAWS prefixes err with a formatted message and classifies it from the
// AWS error it carries (see KindOf).
func WrapAWS(err error, format string, args ...any) error {
	return &Error{Kind: KindOf(err), Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf classifies any error: an *Error keeps its Kind; an AWS API error is
// classified by its code and fault; deadlines and network errors by type.
func KindOf(err error) Kind {
	if err == nil {
		return Internal
	}
	var fe *Error
	if errors.As(err, &fe) && (fe.Err == nil || fe.Kind != Internal) {
		return fe.Kind
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return kindOfAPI(err, api)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Timeout
	}
	var qe *retry.MaxAttemptsError
	if errors.As(err, &qe) {
		return Unavailable
	}
	var ne net.Error
	if errors.As(err, &ne) && !isErrno(ne) {
		if ne.Timeout() {
			return Timeout
		}
		return Unavailable
	}
	if errors.Is(err, context.Canceled) {
		return Unavailable
	}
	return Internal
}

// isErrno reports a bare system call error: it has net.Error's methods, but
// a failed link or rename in the pod's mount is no network failure.
func isErrno(err error) bool {
	_, ok := err.(syscall.Errno)
	return ok
}

func kindOfAPI(err error, api smithy.APIError) Kind {
	code := api.ErrorCode()
	switch {
	case code == "AccessDeniedException" || code == "AccessDenied" ||
		code == "UnrecognizedClientException" || code == "RegionDisabledException":
		return PermissionDenied
	case code == "ExpiredTokenException" || code == "InvalidIdentityToken" ||
		code == "IDPRejectedClaim" || code == "InvalidClientTokenId":
		return Unauthenticated
	case code == "ResourceNotFoundException" || code == "ParameterNotFound" ||
		code == "ParameterVersionNotFound" || code == "ParameterVersionLabelNotFound":
		return NotFound
	case strings.Contains(code, "Throttl") || code == "TooManyRequestsException" ||
		code == "RequestLimitExceeded":
		return Throttled
	case code == "InvalidParameterException" || code == "InvalidRequestException" ||
		code == "ValidationException" || code == "InvalidKeyId" || code == "ValidationError":
		return InvalidArgument
	case code == "DecryptionFailure" || code == "KMSAccessDeniedException":
		return PermissionDenied
	}
	if IsClientFault(err) {
		return FailedPrecondition
	}
	return Unavailable
}

// IsClientFault reports whether err is an AWS error the SDK classifies as the
// caller's fault (a modelled error such as AccessDenied or
// ResourceNotFound). Only those fail a mount outright; any other failure of
// the primary region is covered by the failover region (docs/design.md, the
// failover rule).
func IsClientFault(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	if strings.Contains(api.ErrorCode(), "Throttl") || api.ErrorCode() == "TooManyRequestsException" {
		return false
	}
	if f := api.ErrorFault(); f != smithy.FaultUnknown {
		return f == smithy.FaultClient
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return s >= 400 && s < 500 && s != 429
	}
	return false
}

// credentialRejectedCodes are the AWS error codes that say the credentials
// themselves are expired or unknown (not that they lack a permission).
var credentialRejectedCodes = map[string]bool{
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
}

// credentialRejectedPhrase starts AWS's message for those codes ("... is
// expired", "... is invalid"). A message is taken to be AWS's only when it
// starts with the phrase: a validation message that echoes a caller's value
// starts otherwise.
const credentialRejectedPhrase = "the security token included in the request is "

// IsCredentialRejected reports whether err, or any error it carries (a
// Mount's per-object failures keep their AWS answers as Causes), says AWS
// rejected the credentials a call was signed with as expired or invalid
// (ExpiredToken, ExpiredTokenException, InvalidClientTokenId,
// UnrecognizedClientException, or a message "The security token included
// in the request is expired/invalid"): a definite credential error, after
// which cached credentials are dropped at once (docs/design.md, invariant
// 8). AccessDenied is not one: it also means a missing permission.
func IsCredentialRejected(err error) bool {
	return anyAPIError(err, func(api smithy.APIError) bool {
		return credentialRejectedCodes[api.ErrorCode()] || startsRejected(api.ErrorMessage())
	})
}

// IsAccessDenied reports whether err, or any error it carries, is an AWS
// access denial: a missing permission, or credentials revoked with IAM's
// "Revoke active sessions", which looks the same.
func IsAccessDenied(err error) bool {
	return anyAPIError(err, func(api smithy.APIError) bool {
		c := api.ErrorCode()
		return c == "AccessDeniedException" || c == "AccessDenied"
	})
}

// anyAPIError walks err's whole tree (errors.As stops at the first match).
func anyAPIError(err error, match func(smithy.APIError) bool) bool {
	if err == nil {
		return false
	}
	if api, ok := err.(smithy.APIError); ok && match(api) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return anyAPIError(u.Unwrap(), match)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if anyAPIError(e, match) {
				return true
			}
		}
	}
	return false
}

// startsRejected reports whether msg starts with AWS's message for a
// rejected credential.
func startsRejected(msg string) bool {
	n := len(credentialRejectedPhrase)
	if len(msg) < n || !strings.EqualFold(msg[:n], credentialRejectedPhrase) {
		return false
	}
	rest := strings.ToLower(msg[n:])
	return strings.HasPrefix(rest, "expired") || strings.HasPrefix(rest, "invalid")
}

// Describe reduces err to text safe to show users: for AWS errors the code
// and AWS's message (no request id, no HTTP dump); otherwise err's text.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	var fe *Error
	if errors.As(err, &fe) && (fe != err || len(fe.Causes) > 0) {
		return err.Error()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		msg := api.ErrorMessage()
		if msg == "" {
			return api.ErrorCode()
		}
		return api.ErrorCode() + ": " + msg
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out waiting for AWS"
	}
	return err.Error()
}

// Bytes formats a size for a message: "4.0 MiB", "64.0 KiB", "100 bytes".
// Messages about limits say sizes this way, whichever package checks them.
func Bytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
