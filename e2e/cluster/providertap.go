//go:build e2e

package cluster

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// ProviderTap listens where the driver looks for the provider
// (<provider dir>/aws.sock) and forwards every call to a backend: our
// daemon's real socket elsewhere, or an in-test provider. It records each
// Mount so a test can count the calls that reached the provider; it never
// keeps attribute or secret values (they hold tokens).
type ProviderTap struct {
	SocketPath string

	srv     *grpc.Server
	conn    *grpc.ClientConn
	backend v1alpha1.CSIDriverProviderServer

	mu     sync.Mutex
	mounts []MountRecord
}

// MountRecord is what the tap saw of one Mount call.
type MountRecord struct {
	At         time.Time
	TargetPath string
	// CurrentVersions is len(current_object_version): the driver v1.5
	// rotation reconciler sends them, v1.6 never does.
	CurrentVersions int
	// AttributeKeys and SecretKeys are the keys of the two JSON maps.
	AttributeKeys, SecretKeys []string
	// Code and Message are the gRPC status of the answer.
	Code    string
	Message string
	// Files are the relative paths returned.
	Files []string
}

// StartProviderTap serves socketPath and forwards to the provider listening
// on backendSocket.
func StartProviderTap(socketPath, backendSocket string) (*ProviderTap, error) {
	conn, err := grpc.NewClient("unix://"+backendSocket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// After a daemon restart, reconnect as soon as its socket is back.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
			BaseDelay: 50 * time.Millisecond, Multiplier: 1.5, MaxDelay: 250 * time.Millisecond,
		}, MinConnectTimeout: time.Second}),
	)
	if err != nil {
		return nil, err
	}
	t, err := startTap(socketPath, forwarder{v1alpha1.NewCSIDriverProviderClient(conn)})
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.conn = conn
	return t, nil
}

// ServeProvider serves an in-process provider on socketPath, recording its
// Mount calls like a tap.
func ServeProvider(socketPath string, p v1alpha1.CSIDriverProviderServer) (*ProviderTap, error) {
	return startTap(socketPath, p)
}

func startTap(socketPath string, backend v1alpha1.CSIDriverProviderServer) (*ProviderTap, error) {
	_ = os.Remove(socketPath)
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, err
	}
	t := &ProviderTap{SocketPath: socketPath, srv: grpc.NewServer(), backend: backend}
	v1alpha1.RegisterCSIDriverProviderServer(t.srv, t)
	go t.srv.Serve(l)
	return t, nil
}

// Close stops serving and drops the backend connection.
func (t *ProviderTap) Close() {
	t.srv.Stop()
	if t.conn != nil {
		t.conn.Close()
	}
	_ = os.Remove(t.SocketPath)
}

// Version forwards.
func (t *ProviderTap) Version(ctx context.Context, req *v1alpha1.VersionRequest) (*v1alpha1.VersionResponse, error) {
	return t.backend.Version(ctx, req)
}

// Mount forwards and records.
func (t *ProviderTap) Mount(ctx context.Context, req *v1alpha1.MountRequest) (*v1alpha1.MountResponse, error) {
	rec := MountRecord{
		At:              time.Now(),
		TargetPath:      req.GetTargetPath(),
		CurrentVersions: len(req.GetCurrentObjectVersion()),
		AttributeKeys:   jsonKeys(req.GetAttributes()),
		SecretKeys:      jsonKeys(req.GetSecrets()),
	}
	resp, err := t.backend.Mount(ctx, req)
	st := status.Convert(err)
	rec.Code, rec.Message = st.Code().String(), st.Message()
	for _, f := range resp.GetFiles() {
		rec.Files = append(rec.Files, f.GetPath())
	}
	t.mu.Lock()
	t.mounts = append(t.mounts, rec)
	t.mu.Unlock()
	return resp, err
}

// Mounts returns the Mount calls for targetPath ("" for all) so far.
func (t *ProviderTap) Mounts(targetPath string) []MountRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []MountRecord
	for _, m := range t.mounts {
		if targetPath == "" || m.TargetPath == targetPath {
			out = append(out, m)
		}
	}
	return out
}

// MountCount is len(Mounts(targetPath)).
func (t *ProviderTap) MountCount(targetPath string) int { return len(t.Mounts(targetPath)) }

func jsonKeys(s string) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}

// forwarder adapts a provider client to the server interface.
type forwarder struct {
	c v1alpha1.CSIDriverProviderClient
}

func (f forwarder) Version(ctx context.Context, req *v1alpha1.VersionRequest) (*v1alpha1.VersionResponse, error) {
	return f.c.Version(ctx, req)
}

func (f forwarder) Mount(ctx context.Context, req *v1alpha1.MountRequest) (*v1alpha1.MountResponse, error) {
	return f.c.Mount(ctx, req)
}
