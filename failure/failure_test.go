package failure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError wraps an API error the way the SDK does for an HTTP answer.
func sdkError(status int, code string, fault smithy.ErrorFault) error {
	api := &smithy.GenericAPIError{Code: code, Message: "AWS says no", Fault: fault}
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
		Err: &awshttp.ResponseError{RequestID: "req-1234",
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: api}}}
}

func TestErrorsAreClassifiedInOnePlace(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		kind        Kind
		clientFault bool
	}{
		{"an unmodelled AccessDeniedException with status 400 is a denial and a client fault", sdkError(400, "AccessDeniedException", smithy.FaultUnknown), PermissionDenied, true},
		{"a modelled ResourceNotFoundException is NotFound", sdkError(400, "ResourceNotFoundException", smithy.FaultClient), NotFound, true},
		{"an SSM ParameterNotFound is NotFound", sdkError(400, "ParameterNotFound", smithy.FaultClient), NotFound, true},
		{"a DecryptionFailure is a denial", sdkError(400, "DecryptionFailure", smithy.FaultClient), PermissionDenied, true},
		{"an InvalidRequestException is the caller's fault", sdkError(400, "InvalidRequestException", smithy.FaultClient), InvalidArgument, true},
		{"an expired web identity token is Unauthenticated", sdkError(400, "ExpiredTokenException", smithy.FaultClient), Unauthenticated, true},
		{"throttling left after retries is Throttled and may fail over", sdkError(400, "ThrottlingException", smithy.FaultUnknown), Throttled, false},
		{"an InternalServiceError is Unavailable and may fail over", sdkError(500, "InternalServiceError", smithy.FaultServer), Unavailable, false},
		{"an unmodelled 503 is a server fault", sdkError(503, "ServiceUnavailable", smithy.FaultUnknown), Unavailable, false},
		{"an unknown 4xx code is a precondition the user must fix", sdkError(400, "SomethingNew", smithy.FaultUnknown), FailedPrecondition, true},
		{"a deadline is a Timeout and may fail over", fmt.Errorf("calling: %w", context.DeadlineExceeded), Timeout, false},
		{"a classified error keeps its kind through wrapping", fmt.Errorf("outer: %w", New(InvalidArgument, "bad")), InvalidArgument, false},
		{"a plain error is Internal", errors.New("boom"), Internal, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.kind {
				t.Errorf("KindOf = %v, want %v", got, tc.kind)
			}
			if got := IsClientFault(tc.err); got != tc.clientFault {
				t.Errorf("IsClientFault = %v, want %v", got, tc.clientFault)
			}
		})
	}
}

func TestDescribeDropsRequestIDsAndHTTPDetail(t *testing.T) {
	err := WrapAWS(sdkError(400, "AccessDeniedException", smithy.FaultUnknown), "objects[0] %q in %s", "db", "us-east-1")
	msg := err.Error()
	if !strings.Contains(msg, `objects[0] "db" in us-east-1: AccessDeniedException: AWS says no`) {
		t.Errorf("message = %q", msg)
	}
	if strings.Contains(msg, "req-1234") || strings.Contains(msg, "StatusCode") {
		t.Errorf("message leaks transport detail: %q", msg)
	}
	if KindOf(err) != PermissionDenied {
		t.Errorf("kind = %v", KindOf(err))
	}
}

func TestIsCredentialRejected(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"an ExpiredTokenException from Secrets Manager is a rejection", sdkError(400, "ExpiredTokenException", smithy.FaultClient), true},
		{"an S3-style ExpiredToken is a rejection", sdkError(400, "ExpiredToken", smithy.FaultUnknown), true},
		{"an InvalidClientTokenId is a rejection", sdkError(403, "InvalidClientTokenId", smithy.FaultClient), true},
		{"an UnrecognizedClientException from SSM is a rejection", sdkError(400, "UnrecognizedClientException", smithy.FaultClient), true},
		{"an unknown code with AWS's expired-token message is a rejection",
			&smithy.GenericAPIError{Code: "SomethingNew", Message: "The security token included in the request is expired"}, true},
		{"an unknown code with AWS's invalid-token message is a rejection",
			&smithy.GenericAPIError{Code: "SomethingNew", Message: "The security token included in the request is invalid."}, true},
		{"a rejection wrapped with context is still one",
			WrapAWS(sdkError(400, "ExpiredTokenException", smithy.FaultClient), "objects[0] %q in %s", "db", "us-east-1"), true},
		{"a Mount's per-object failure keeps the rejection among its causes",
			&Error{Kind: Unauthenticated, Msg: `objects[0] Secrets Manager secret "db" in us-east-1: ExpiredTokenException: ...`,
				Causes: []error{sdkError(400, "ExpiredTokenException", smithy.FaultClient)}}, true},
		{"text alone is not a rejection: a tenant names objects",
			&Error{Kind: Unauthenticated, Msg: `objects[0] Secrets Manager secret "db" in us-east-1: ExpiredTokenException: The security token included in the request is expired`}, false},
		{"an AccessDeniedException is not a rejection: it also means a missing permission",
			sdkError(400, "AccessDeniedException", smithy.FaultClient), false},
		{"a secret named after a code is not a rejection",
			&Error{Kind: PermissionDenied, Msg: `objects[0] Secrets Manager secret "ExpiredTokenException" in us-east-1: AccessDeniedException: no`}, false},
		{"a validation message echoing AWS's text is not a rejection",
			&smithy.GenericAPIError{Code: "ValidationException", Message: "Value 'The security token included in the request is expired' at 'secretId' failed to satisfy constraint"}, false},
		{"AWS's text in an error of another kind is not a rejection",
			&Error{Kind: InvalidArgument, Msg: "objects[0] in us-east-1: ValidationException: The security token included in the request is expired"}, false},
		{"a server fault is not a rejection", sdkError(500, "InternalServiceError", smithy.FaultServer), false},
		{"a deadline is not a rejection", context.DeadlineExceeded, false},
		{"no error is not a rejection", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsCredentialRejected(tc.err); got != tc.want {
				t.Errorf("IsCredentialRejected = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBytesSaysSizesAsTheLimitsDo(t *testing.T) {
	for n, want := range map[int]string{100: "100 bytes", 1023: "1023 bytes", 64 << 10: "64.0 KiB", 80 << 10: "80.0 KiB", 4 << 20: "4.0 MiB", 1<<20 + 1<<19: "1.5 MiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
