// Command csi-provider-aws is a Secrets Store CSI Driver provider for AWS
// Secrets Manager and SSM Parameter Store: a node daemon that answers the
// driver's Mount calls on <provider-volume>/aws.sock with the pod's secrets,
// read with the pod's own identity (IRSA or EKS Pod Identity).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
	"github.com/csi-provider-aws/csi-provider-aws/server"
	"github.com/csi-provider-aws/csi-provider-aws/validate"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// socketName is <provider name>.sock; the driver finds us by spec.provider: aws.
const socketName = "aws.sock"

// Config is every flag of the daemon, in one place. Precedence: flag >
// environment (where noted) > default.
type Config struct {
	ProviderVolume         string
	DriverWritesSecrets    bool
	Kubeconfig             string
	QPS                    float64
	Burst                  int
	PodIdentityHTTPTimeout time.Duration
	EKSAddonVersion        string
	PodIdentityIPv4        string
	PodIdentityIPv6        string
	NodeName               string
	HTTPAddr               string
	PprofAddr              string
	MountTimeout           time.Duration
	ShutdownTimeout        time.Duration
	AWSMaxAttempts         int
	CacheTTL               time.Duration
	CacheMaxBytes          int
	CacheScope             string
	CacheStaleMax          time.Duration
	AWSMaxConcurrency      int
	MaxResponseBytes       int
	MaxAnswerBytesInFlight int
	TokenRequestFallback   bool
	LoggingFormat          string
	// Region is the daemon's AWS_REGION, the fallback for classes without one.
	Region string
}

// SocketPath is where the driver looks for us.
func (c *Config) SocketPath() string { return filepath.Join(c.ProviderVolume, socketName) }

func (c *Config) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.ProviderVolume, "provider-volume", "/var/run/secrets-store-csi-providers",
		"directory shared with the driver; the socket is <dir>/aws.sock")
	fs.BoolVar(&c.DriverWritesSecrets, "driver-writes-secrets", true,
		"return files in the Mount answer for the driver to write (atomically, as symlinks into ..data); false = the daemon writes them into the pod's mount itself")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file; empty = in-cluster configuration")
	fs.Float64Var(&c.QPS, "qps", 50, "Kubernetes client queries per second (the reference's 5 throttles bursts of mounts)")
	fs.IntVar(&c.Burst, "burst", 100, "Kubernetes client burst")
	fs.DurationVar(&c.PodIdentityHTTPTimeout, "pod-identity-http-timeout", time.Second,
		"timeout of the first attempt to get credentials from the EKS Pod Identity agent; a 5xx, a 429, a dropped connection or a timeout is retried with backoff and jitter within the Mount's deadline, each attempt getting twice the time of the one before")
	fs.StringVar(&c.EKSAddonVersion, "eks-addon-version", "",
		"accepted for compatibility with the reference provider's manifests; only logged")
	fs.StringVar(&c.PodIdentityIPv4, "pod-identity-endpoint-ipv4", "http://169.254.170.23/v1/credentials",
		"EKS Pod Identity agent endpoint (IPv4)")
	fs.StringVar(&c.PodIdentityIPv6, "pod-identity-endpoint-ipv6", "http://[fd00:ec2::23]/v1/credentials",
		"EKS Pod Identity agent endpoint (IPv6)")
	fs.StringVar(&c.NodeName, "node-name", os.Getenv("NODE_NAME"),
		"this node's name, for its region label (default: env NODE_NAME; else the pod's spec.nodeName)")
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8989", "address for /healthz, /readyz and /metrics; empty = off")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "loopback address for Go's /debug/pprof profiles (e.g. 127.0.0.1:6060); empty = off")
	fs.DurationVar(&c.MountTimeout, "mount-timeout", 30*time.Second, "upper bound of one Mount, AWS retries included")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second,
		"on SIGTERM, how long in-flight Mounts may take to finish")
	fs.IntVar(&c.AWSMaxAttempts, "aws-max-attempts", 3, "attempts per AWS call for retryable errors (SDK standard retryer)")
	fs.DurationVar(&c.CacheTTL, "cache-ttl", 2*time.Minute,
		"how long a value read from AWS is served to pods of the same identity before it is read again; 0 = no value cache (the reference's behaviour). A rotated secret reaches pods within the driver's rotation poll interval + this TTL")
	fs.DurationVar(&c.CacheStaleMax, "cache-stale-max", 15*time.Minute,
		"when AWS cannot be reached (server fault, throttling after retries, timeout; never a denial or a missing secret), keep serving a value AWS confirmed for the same identity within this long; 0 = off")
	fs.IntVar(&c.AWSMaxConcurrency, "aws-max-concurrency", 64, "upper bound of AWS calls in flight at once, across every identity and region")
	fs.IntVar(&c.MaxResponseBytes, "max-response-bytes", server.DefaultMaxResponseBytes,
		"upper bound of one Mount's files; the driver's --max-call-recv-msg-size (default 4 MiB) must be larger")
	fs.BoolVar(&c.TokenRequestFallback, "token-request-fallback", false,
		"when the driver sends no token for the audience a pod's mode needs (a CSIDriver without tokenRequests), request a short-lived token bound to the pod from the API server (needs create on serviceaccounts/token); off: such a Mount fails naming the tokenRequests audience to add")
	fs.IntVar(&c.MaxAnswerBytesInFlight, "max-answer-bytes-in-flight", server.DefaultMaxAnswerBytesInFlight,
		"upper bound of the bytes of Mount answers held at once until the driver has read them; a Mount waits for room within its deadline")
	fs.IntVar(&c.CacheMaxBytes, "cache-max-bytes", 64<<20, "upper bound of the bytes of cached values (least recently used go first)")
	fs.StringVar(&c.LoggingFormat, "logging-format", logText,
		`log format: "text" (klog's) or "json" (one JSON object per line, each key of a line a field; at klog's -v, without klog's other flags)`)
	fs.StringVar(&c.CacheScope, "cache-scope", string(auth.ScopeIdentity),
		"who shares cached AWS credentials and values: identity = the pods of one ServiceAccount, role and region (one STS or Pod Identity agent call per identity per credential lifetime); pod = each pod alone, for IAM policies whose conditions tell pods of one ServiceAccount apart (per-pod session tags or role session names), at one STS or agent call per pod per credential lifetime and one value read per pod per --cache-ttl")
}

// Validate checks the flags before anything starts.
func (c *Config) Validate() error {
	var errs []error
	if c.ProviderVolume == "" {
		errs = append(errs, errors.New("--provider-volume must not be empty"))
	}
	if c.QPS <= 0 {
		errs = append(errs, fmt.Errorf("--qps must be positive, got %v", c.QPS))
	}
	if c.Burst <= 0 {
		errs = append(errs, fmt.Errorf("--burst must be positive, got %d", c.Burst))
	}
	if c.PodIdentityHTTPTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--pod-identity-http-timeout must be positive, got %v", c.PodIdentityHTTPTimeout))
	}
	for name, v := range map[string]string{"--pod-identity-endpoint-ipv4": c.PodIdentityIPv4, "--pod-identity-endpoint-ipv6": c.PodIdentityIPv6} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s must be an http(s) URL, got %q", name, v))
		}
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			errs = append(errs, fmt.Errorf("--pprof-addr must be a loopback host:port such as 127.0.0.1:6060, got %q", c.PprofAddr))
		}
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("--http-addr must be host:port, got %q", c.HTTPAddr))
		}
	}
	if c.MountTimeout <= 0 || c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("--mount-timeout must be positive and --shutdown-timeout not negative"))
	}
	if c.CacheTTL < 0 || c.CacheMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("--cache-ttl must not be negative and --cache-max-bytes must be positive, got %v and %d", c.CacheTTL, c.CacheMaxBytes))
	}
	if c.CacheStaleMax < 0 {
		errs = append(errs, fmt.Errorf("--cache-stale-max must not be negative, got %v", c.CacheStaleMax))
	}
	if c.AWSMaxConcurrency < 1 {
		errs = append(errs, fmt.Errorf("--aws-max-concurrency must be at least 1, got %d", c.AWSMaxConcurrency))
	}
	if c.MaxAnswerBytesInFlight < c.MaxResponseBytes {
		errs = append(errs, fmt.Errorf("--max-answer-bytes-in-flight (%d) must be at least --max-response-bytes (%d)", c.MaxAnswerBytesInFlight, c.MaxResponseBytes))
	}
	if c.MaxResponseBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("--max-response-bytes must be at least 1024, got %d", c.MaxResponseBytes))
	}
	if _, err := auth.ParseScope(c.CacheScope); err != nil {
		errs = append(errs, fmt.Errorf("--cache-scope: %w", err))
	}
	if c.LoggingFormat != logText && c.LoggingFormat != logJSON {
		errs = append(errs, fmt.Errorf("--logging-format must be %q or %q, got %q", logText, logJSON, c.LoggingFormat))
	}
	if c.AWSMaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("--aws-max-attempts must be at least 1, got %d", c.AWSMaxAttempts))
	}
	return errors.Join(errs...)
}

// catalog is what classes are parsed with, by the daemon's Mounts and by
// validate alike: the services table and the auth modes table.
func catalog() class.Catalog {
	return class.Catalog{Services: provider.Services(), Modes: auth.Modes()}
}

// main runs the daemon, or the subcommand its first argument names:
// `validate` checks SecretProviderClass manifests (package validate).
func main() {
	if len(os.Args) > 1 && os.Args[1] == "validate" {
		os.Exit(validate.Main(os.Args[2:], validate.Options{Catalog: catalog(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	if err := run(os.Args[1:]); err != nil {
		klog.ErrorS(err, "csi-provider-aws stopped")
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

func run(args []string) error {
	fs := flag.NewFlagSet("csi-provider-aws", flag.ContinueOnError)
	var cfg Config
	cfg.bind(fs)
	klog.InitFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := applyLogging(cfg.LoggingFormat, fs); err != nil {
		return err
	}
	cfg.Region = os.Getenv("AWS_REGION")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	klog.InfoS("starting", "version", version, "socket", cfg.SocketPath(), "driverWritesSecrets", cfg.DriverWritesSecrets,
		"node", cfg.NodeName, "eksAddonVersion", cfg.EKSAddonVersion)

	metrics := server.NewMetrics()
	ready := server.NewReadiness(metrics)
	srv, err := assemble(ctx, cfg, metrics)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, server.NewGRPCServer(srv, metrics, ready), server.NewHealth(cfg.SocketPath(), metrics.Registry, ready), ready)
}
