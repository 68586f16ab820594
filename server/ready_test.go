package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
)

// readyGauge records what ObserveReady was last told.
type readyGauge struct{ last []bool }

func (g *readyGauge) ObserveReady(ready bool) { g.last = append(g.last, ready) }

// healthOnSocket serves a Server with r on a new socket and returns a
// health client for it, the gRPC server and the socket's path.
func healthOnSocket(t *testing.T, r *Readiness) (healthgrpc.HealthClient, *grpc.Server, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ready-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "aws.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Credentials: noCreds{}, Fetcher: noFetch{}, Regions: noRegions{}, Catalog: catalog})
	if err != nil {
		t.Fatal(err)
	}
	g := NewGRPCServer(srv, nil, r)
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthgrpc.NewHealthClient(conn), g, sock
}

func TestReadinessIsOneAnswerForEveryProbe(t *testing.T) {
	obs := &readyGauge{}
	r := NewReadiness(obs)
	client, _, sock := healthOnSocket(t, r)
	h := NewHealth(sock, nil, r)
	steps := []struct {
		name   string
		do     func()
		want   healthgrpc.HealthCheckResponse_ServingStatus
		gauge  bool
		readyz int
	}{
		{"a daemon that is starting is not serving", func() {}, healthgrpc.HealthCheckResponse_NOT_SERVING, false, 503},
		{"a daemon whose informers synced and whose socket listens is serving", r.Serving, healthgrpc.HealthCheckResponse_SERVING, true, 200},
		{"a daemon that is stopping is not serving", r.Stopping, healthgrpc.HealthCheckResponse_NOT_SERVING, false, 503},
		{"a daemon that stopped never serves again", r.Serving, healthgrpc.HealthCheckResponse_NOT_SERVING, false, 503},
	}
	for _, s := range steps {
		s.do()
		for _, svc := range healthServices {
			resp, err := client.Check(t.Context(), &healthgrpc.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != s.want {
				t.Errorf("%s: Check(%q) = %v, %v; want %v", s.name, svc, resp.GetStatus(), err, s.want)
			}
		}
		if got := obs.last[len(obs.last)-1]; got != s.gauge || r.Ready() != s.gauge {
			t.Errorf("%s: the gauge was last told %v and Ready() = %v, want %v", s.name, got, r.Ready(), s.gauge)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != s.readyz {
			t.Errorf("%s: /readyz = %d, want %d", s.name, rec.Code, s.readyz)
		}
	}
}

func TestAHealthWatchEndsWhenTheDaemonStopsAndDoesNotHoldTheGracefulStop(t *testing.T) {
	r := NewReadiness(nil)
	r.Serving()
	client, g, _ := healthOnSocket(t, r)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	watch, err := client.Watch(ctx, &healthgrpc.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("first status = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	r.Stopping()
	var last healthgrpc.HealthCheckResponse_ServingStatus
	for {
		resp, err := watch.Recv()
		if err != nil {
			if err != io.EOF {
				t.Fatalf("the watch did not end when the daemon stopped: %v", err)
			}
			break
		}
		last = resp.GetStatus()
	}
	if last != healthgrpc.HealthCheckResponse_NOT_SERVING {
		t.Errorf("the watch's last status = %v, want NOT_SERVING", last)
	}
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop waited on the health watch")
	}
}
