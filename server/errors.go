package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// grpcCodes maps a failure kind to the gRPC code the driver receives. Never
// UNAVAILABLE for an AWS failure: the driver retries UNAVAILABLE three
// times, which would triple the calls for nothing. AWS server faults and
// network failures after the SDK's retries are Aborted: the attempt failed
// without inviting the driver's immediate retry loop; kubelet will
// republish. A kind not listed (a bug) is Internal.
var grpcCodes = map[failure.Kind]codes.Code{
	failure.InvalidArgument:    codes.InvalidArgument,
	failure.PermissionDenied:   codes.PermissionDenied,
	failure.NotFound:           codes.NotFound,
	failure.FailedPrecondition: codes.FailedPrecondition,
	failure.Unauthenticated:    codes.Unauthenticated,
	failure.Throttled:          codes.ResourceExhausted,
	failure.Timeout:            codes.DeadlineExceeded,
	failure.TooLarge:           codes.ResourceExhausted,
	failure.Unavailable:        codes.Aborted,
}

func codeOf(k failure.Kind) codes.Code {
	if c, ok := grpcCodes[k]; ok {
		return c
	}
	return codes.Internal
}

// toStatus turns any Mount error into the status the driver shows users.
func toStatus(err error) error {
	return status.Error(codeOf(failure.KindOf(err)), err.Error())
}
