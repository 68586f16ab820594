package server

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// ReadyObserver is told each time the daemon becomes ready or stops being
// ready (metrics).
type ReadyObserver interface {
	ObserveReady(ready bool)
}

// healthServices are the names grpc.health.v1 answers for on the provider
// socket: the server as a whole ("") and the driver's service.
var healthServices = []string{"", v1alpha1.CSIDriverProvider_ServiceDesc.ServiceName}

// Readiness is the daemon's one answer to "may the driver use it now?":
// not while it starts, ready once Kubernetes' informers have synced
// (kube.Start returns then) and the socket listens, and not again once it
// stops. /readyz, grpc.health.v1 on the provider socket and the ready gauge
// all read it, so they never disagree. Safe for concurrent use.
type Readiness struct {
	mu      sync.Mutex
	ready   bool
	stopped bool
	grpc    *health.Server
	obs     ReadyObserver
	// stopping ends when Stopping is called.
	stopping context.Context
	stop     context.CancelFunc
}

// NewReadiness returns a Readiness that is not ready yet; obs may be nil.
func NewReadiness(obs ReadyObserver) *Readiness {
	r := &Readiness{grpc: health.NewServer(), obs: obs}
	r.stopping, r.stop = context.WithCancel(context.Background())
	r.set(false)
	return r
}

// Serving marks the daemon ready, unless it is already stopping.
func (r *Readiness) Serving() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped {
		r.set(true)
	}
}

// Stopping marks the daemon not ready for good, and ends every
// grpc.health.v1 Watch after telling it NOT_SERVING: a watch never ends
// by itself, and would hold a graceful stop until --shutdown-timeout.
func (r *Readiness) Stopping() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	r.set(false)
	r.grpc.Shutdown()
	r.stop()
}

// Ready reports whether the daemon is ready.
func (r *Readiness) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready
}

// set records ready everywhere it is read; r.mu is held (or r is new).
func (r *Readiness) set(ready bool) {
	r.ready = ready
	status := healthgrpc.HealthCheckResponse_NOT_SERVING
	if ready {
		status = healthgrpc.HealthCheckResponse_SERVING
	}
	for _, name := range healthServices {
		r.grpc.SetServingStatus(name, status)
	}
	if r.obs != nil {
		r.obs.ObserveReady(ready)
	}
}

// register serves grpc.health.v1 on g.
func (r *Readiness) register(g *grpc.Server) {
	healthgrpc.RegisterHealthServer(g, &healthService{Server: r.grpc, stopping: r.stopping})
}

// healthService is grpc's standard health service whose Watch streams end
// once the daemon is stopping.
type healthService struct {
	*health.Server
	stopping context.Context
}

// Watch implements grpc.health.v1 Watch: the standard one until the daemon
// stops, then a last NOT_SERVING and the end of the stream.
func (h *healthService) Watch(req *healthgrpc.HealthCheckRequest, stream healthgrpc.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(h.stopping, cancel)()
	err := h.Server.Watch(req, &watchStream{Health_WatchServer: stream, ctx: ctx})
	if h.stopping.Err() == nil {
		return err
	}
	// The standard Watch may have returned before sending the shutdown's
	// NOT_SERVING; say it again rather than leave the watcher unsure.
	_ = stream.Send(&healthgrpc.HealthCheckResponse{Status: healthgrpc.HealthCheckResponse_NOT_SERVING})
	return nil
}

// watchStream is a Watch stream whose context also ends when the daemon
// stops.
type watchStream struct {
	healthgrpc.Health_WatchServer
	ctx context.Context
}

func (s *watchStream) Context() context.Context { return s.ctx }
