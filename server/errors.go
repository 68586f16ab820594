package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// codeOf maps a failure kind to the gRPC code the driver receives. Never
// UNAVAILABLE for an AWS failure: the driver retries UNAVAILABLE three
// times, which would triple the calls for nothing.
func codeOf(k failure.Kind) codes.Code {
	switch k {
	case failure.InvalidArgument:
		return codes.InvalidArgument
	case failure.PermissionDenied:
		return codes.PermissionDenied
	case failure.NotFound:
		return codes.NotFound
	case failure.FailedPrecondition:
		return codes.FailedPrecondition
	case failure.Unauthenticated:
		return codes.Unauthenticated
	case failure.Throttled:
		return codes.ResourceExhausted
	case failure.Timeout:
		return codes.DeadlineExceeded
	case failure.TooLarge:
		return codes.ResourceExhausted
	case failure.Unavailable:
		// AWS server faults and network failures after the SDK's retries:
		// Aborted tells the driver the attempt failed without inviting its
		// immediate retry loop; kubelet will republish.
		return codes.Aborted
	}
	return codes.Internal
}

// toStatus turns any Mount error into the status the driver shows users.
func toStatus(err error) error {
	return status.Error(codeOf(failure.KindOf(err)), err.Error())
}
