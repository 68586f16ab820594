package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"google.golang.org/grpc"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/kube"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
	"github.com/csi-provider-aws/csi-provider-aws/server"
)

// assemble builds the daemon's Mount server from cfg: the AWS clients, the
// Kubernetes reads (kube.Start returns once its informers have synced), the
// credentials of each auth mode and the value fetcher, all counted by
// metrics.
func assemble(ctx context.Context, cfg Config, metrics *server.Metrics) (*server.Server, error) {
	awsCfg, err := provider.LoadAWSConfig(ctx, provider.AWSConfigOptions{
		HTTPClient: provider.NewHTTPClient(15 * time.Second), Recorder: metrics,
		MaxAttempts: cfg.AWSMaxAttempts, MaxConcurrent: cfg.AWSMaxConcurrency,
	})
	if err != nil {
		return nil, err
	}
	clients := provider.NewClients(awsCfg)
	kubeClient, err := kube.Start(ctx, kube.Options{
		Kubeconfig: cfg.Kubeconfig, QPS: float32(cfg.QPS), Burst: cfg.Burst, UserAgent: "csi-provider-aws/" + version,
		NodeName: cfg.NodeName,
	})
	if err != nil {
		return nil, err
	}
	creds, err := credentials(cfg, clients, kubeClient, metrics)
	if err != nil {
		return nil, err
	}
	fetcher := provider.NewFetcher(clients, provider.FetcherOptions{
		CacheTTL: cfg.CacheTTL, StaleMax: cfg.CacheStaleMax, MaxBytes: cfg.CacheMaxBytes, Observer: metrics,
		MaxListingBytes: cfg.MaxResponseBytes, // a larger set could not be answered
	})
	metrics.WatchCache(fetcher.CacheStats)
	return server.New(server.Options{
		Credentials:            creds,
		Fetcher:                fetcher,
		Regions:                kube.NewRegions(kubeClient, cfg.Region, cfg.NodeName),
		Catalog:                catalog(),
		DriverWritesSecrets:    cfg.DriverWritesSecrets,
		MaxResponseBytes:       cfg.MaxResponseBytes,
		MaxAnswerBytesInFlight: cfg.MaxAnswerBytesInFlight,
		MountTimeout:           cfg.MountTimeout,
		Version:                version,
		Observer:               metrics,
	})
}

// credentials resolves pods' credentials with a provider for each auth
// mode: IRSA through the regional STS clients, EKS Pod Identity through
// the node's agent; classes' cross-account roles through STS too, and,
// with --token-request-fallback, tokens the driver did not send through
// the API server's TokenRequest.
func credentials(cfg Config, clients *provider.Clients, kubeClient *kube.Client, metrics *server.Metrics) (*auth.Credentials, error) {
	irsa := auth.NewIRSA(func(region string) auth.STSAPI { return clients.STS(region) }, auth.IRSAOptions{})
	podIdentity := auth.NewPodIdentity(auth.PodIdentityOptions{
		IPv4Endpoint: cfg.PodIdentityIPv4, IPv6Endpoint: cfg.PodIdentityIPv6,
		HTTPTimeout: cfg.PodIdentityHTTPTimeout,
	})
	opts := auth.CredentialsOptions{
		Roles:     kubeClient,
		Providers: map[auth.Mode]auth.Provider{auth.ModeIRSA: irsa, auth.ModePodIdentity: podIdentity},
		Chain:     auth.NewChain(func(region string) auth.AssumeRoleAPI { return clients.STS(region) }),
		Scope:     auth.ScopeMode(cfg.CacheScope),
		Observer:  metrics,
	}
	if cfg.TokenRequestFallback {
		opts.Tokens = kubeClient
	}
	return auth.NewCredentials(opts)
}

// serve runs the gRPC and HTTP listeners until ctx ends, then drains. The
// daemon is ready once they listen: kube.Start has returned, so its
// informers have synced.
func serve(ctx context.Context, cfg Config, g *grpc.Server, health *server.Health, ready *server.Readiness) error {
	lis, err := server.Listen(cfg.SocketPath())
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(lis) }()
	hs, err := listenHTTP(cfg.HTTPAddr, health, errc)
	if err != nil {
		g.Stop()
		return err
	}
	stopProfiles, err := listenProfiles(cfg.PprofAddr)
	if err != nil {
		g.Stop()
		if hs != nil {
			hs.Close()
		}
		return err
	}
	defer stopProfiles()
	ready.Serving()
	releaseStartupPages()
	klog.InfoS("serving", "socket", cfg.SocketPath())

	var serveErr error
	select {
	case <-ctx.Done():
		klog.InfoS("stopping: finishing in-flight mounts", "timeout", cfg.ShutdownTimeout)
	case serveErr = <-errc:
	}
	ready.Stopping()
	drain(cfg, g, hs)
	return serveErr
}

// listenHTTP serves health and metrics on addr ("" = off, nil server); a
// failure to serve later is sent to errc.
func listenHTTP(addr string, health *server.Health, errc chan<- error) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	hl, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --http-addr %s: %w", addr, err)
	}
	hs := &http.Server{Handler: health, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	klog.InfoS("serving health and metrics", "addr", hl.Addr().String())
	return hs, nil
}

// listenProfiles serves Go's profiles on addr ("" = off) and returns what
// stops it.
func listenProfiles(addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	pl, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --pprof-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	ps := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ps.Serve(pl) }()
	klog.InfoS("serving profiles", "addr", pl.Addr().String())
	return func() { ps.Close() }, nil
}

// drain lets in-flight Mounts finish within --shutdown-timeout (then
// cancels them), stops the HTTP listener and removes the socket.
func drain(cfg Config, g *grpc.Server, hs *http.Server) {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.ShutdownTimeout):
		klog.InfoS("shutdown timeout reached; cancelling in-flight mounts")
		g.Stop()
	}
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = hs.Shutdown(sctx)
		cancel()
	}
	if err := os.Remove(cfg.SocketPath()); err != nil && !os.IsNotExist(err) {
		klog.ErrorS(err, "removing the socket")
	}
	klog.InfoS("stopped")
}
