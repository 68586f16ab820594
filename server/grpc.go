package server

import (
	"context"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// MaxRequestBytes bounds one request from the driver: the class's
// parameters, the pod's attributes and tokens, the node-publish Secret and
// the object versions. A SecretProviderClass and a Secret are each at most
// about 1.5 MiB (etcd's object limit), so a real request stays under it;
// each part has a tighter bound of its own, checked with a message that
// names it (docs/limits.md), which a smaller gRPC limit would pre-empt
// with a bare "message larger than max".
const MaxRequestBytes = 4 << 20

// PanicObserver counts recovered panics (metrics); optional.
type PanicObserver interface {
	ObservePanic(method string)
}

// NewGRPCServer returns the gRPC server the daemon serves s with: requests
// bounded to MaxRequestBytes, and a panic in any handler turned into an
// Internal status for that one request (logged with its stack, which holds
// no request data), so that no input can end the daemon and every other
// pod's mounts with it. Beside the driver's service it serves the standard
// grpc.health.v1 service, which answers with ready: SERVING once the
// daemon is ready, NOT_SERVING while it starts and once it stops. obs and
// ready may be nil (no health service).
func NewGRPCServer(s *Server, obs PanicObserver, ready *Readiness) *grpc.Server {
	g := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.StatsHandler(statsHandler{}),
		grpc.ChainUnaryInterceptor(recoverPanics(obs)),
	)
	v1alpha1.RegisterCSIDriverProviderServer(g, s)
	if ready != nil {
		ready.register(g)
	}
	return g
}

func recoverPanics(obs PanicObserver) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				// Never log r itself: a panic value may quote the input.
				klog.ErrorS(nil, "recovered a panic while answering the driver; this is a bug, please report it with the stack",
					"method", info.FullMethod, "stack", string(debug.Stack()))
				if obs != nil {
					obs.ObservePanic(info.FullMethod)
				}
				resp, err = nil, status.Error(codes.Internal, "the provider hit an internal error answering this request (recovered; see the daemon's log)")
			}
		}()
		return handler(ctx, req)
	}
}
