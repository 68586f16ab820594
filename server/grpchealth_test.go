package server_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestTheDaemonAnswersGRPCHealthOnItsSocket checks grpc.health.v1 as a
// kubelet gRPC probe or grpc_health_probe sees it: on the provider socket
// of the daemon assembled as main.go assembles it, beside the driver's
// service, in step with the ready gauge.
func TestTheDaemonAnswersGRPCHealthOnItsSocket(t *testing.T) {
	f, url := startFake(t)
	f.PutSecretString("us-west-2", "db", "v")
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
	health := healthgrpc.NewHealthClient(d.conn)
	p := pod{ns: "team", name: "web", sa: "app"}
	if _, err := d.mount(t, p, map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n"}, t.TempDir()); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	steps := []struct {
		name    string
		do      func()
		service string
		want    healthgrpc.HealthCheckResponse_ServingStatus
		code    codes.Code
		gauge   float64
	}{
		{"a ready daemon serves as a whole", func() {}, "", healthgrpc.HealthCheckResponse_SERVING, codes.OK, 1},
		{"a ready daemon serves the driver's service", func() {}, "v1alpha1.CSIDriverProvider", healthgrpc.HealthCheckResponse_SERVING, codes.OK, 1},
		{"a service the daemon does not have is not found", func() {}, "grpc.reflection.v1.ServerReflection", 0, codes.NotFound, 1},
		{"a stopping daemon is not serving as a whole", d.ready.Stopping, "", healthgrpc.HealthCheckResponse_NOT_SERVING, codes.OK, 0},
		{"a stopping daemon is not serving the driver's service", func() {}, "v1alpha1.CSIDriverProvider", healthgrpc.HealthCheckResponse_NOT_SERVING, codes.OK, 0},
	}
	for _, s := range steps {
		s.do()
		resp, err := health.Check(t.Context(), &healthgrpc.HealthCheckRequest{Service: s.service})
		if status.Code(err) != s.code || resp.GetStatus() != s.want {
			t.Errorf("%s: Check(%q) = %v, %v; want %v, code %v", s.name, s.service, resp.GetStatus(), err, s.want, s.code)
		}
		if g := d.metric(t, "csi_provider_aws_ready", nil); g != s.gauge {
			t.Errorf("%s: csi_provider_aws_ready = %v, want %v", s.name, g, s.gauge)
		}
	}
}
