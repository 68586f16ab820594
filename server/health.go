package server

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// Health serves /healthz, /readyz and /metrics on its own mux.
type Health struct {
	socket string
	ready  *Readiness
	mux    *http.ServeMux
}

// NewHealth checks the provider socket at socketPath, answers /readyz with
// ready and exposes reg.
func NewHealth(socketPath string, reg *prometheus.Registry, ready *Readiness) *Health {
	h := &Health{socket: socketPath, ready: ready, mux: http.NewServeMux()}
	h.mux.HandleFunc("/healthz", h.healthz)
	h.mux.HandleFunc("/readyz", h.readyz)
	if reg != nil {
		h.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	}
	return h
}

func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// healthz is healthy when the socket answers Version: the same path the
// driver uses, so a wedged gRPC server or a deleted socket is caught.
func (h *Health) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := CheckSocket(ctx, h.socket); err != nil {
		http.Error(w, "provider socket does not answer: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (h *Health) readyz(w http.ResponseWriter, r *http.Request) {
	if !h.ready.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	h.healthz(w, r)
}

// CheckSocket calls Version on the provider socket at path.
func CheckSocket(ctx context.Context, path string) error {
	conn, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = v1alpha1.NewCSIDriverProviderClient(conn).Version(ctx, &v1alpha1.VersionRequest{Version: "v1alpha1"})
	return err
}
