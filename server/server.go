// Package server owns the driver-facing side of the daemon: the gRPC
// CSIDriverProvider service (Version, Mount) on its unix socket, the HTTP
// listener for health, and the mapping of classified failures to the gRPC
// status the driver shows users. It never talks to AWS or Kubernetes itself:
// it runs a Mount through package request (the one parse of the request:
// pod, tokens, class, region), package auth (credentials for who is asking)
// and package provider (the values and the files).
package server

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/klog/v2"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// RuntimeName is what Version reports as the provider's runtime.
const RuntimeName = "csi-provider-aws"

// DefaultMaxResponseBytes is the driver's default gRPC receive limit (4 MiB)
// less room for the message framing and object versions.
const DefaultMaxResponseBytes = 4<<20 - 64<<10

// Credentials turns a request's identity into AWS credentials (package auth).
type Credentials interface {
	Resolve(ctx context.Context, m *request.Mount) (auth.Identity, aws.CredentialsProvider, error)
	// Invalidate drops id's cached credentials if they still are those
	// with accessKeyID and were obtained at least minAge ago, and reports
	// whether it did.
	Invalidate(id auth.Identity, accessKeyID string, minAge time.Duration) bool
}

// Fetcher reads a class's values (package provider).
type Fetcher interface {
	Fetch(ctx context.Context, req provider.FetchRequest) ([]provider.Value, error)
}

// MountObserver is told when every Mount starts and how it ended (metrics,
// benchmarks): MountStarted, then ObserveMount once.
type MountObserver interface {
	MountStarted()
	ObserveMount(outcome string, took time.Duration)
}

// Options configure a Server.
type Options struct {
	Credentials Credentials
	Fetcher     Fetcher
	Regions     request.RegionResolver
	// Catalog is what classes are parsed with: the services objects are
	// read from and the auth modes (class.Catalog).
	Catalog class.Catalog
	// DriverWritesSecrets returns files in the MountResponse (the driver
	// writes them); false makes the daemon write them into the target path.
	DriverWritesSecrets bool
	// MaxResponseBytes bounds the files' total size (0 = default).
	MaxResponseBytes int
	// MaxAnswerBytesInFlight bounds the bytes of answers held until gRPC has
	// sent them, across all Mounts (0 = DefaultMaxAnswerBytesInFlight).
	MaxAnswerBytesInFlight int
	// MountTimeout bounds one Mount (0 = 30s).
	MountTimeout time.Duration
	// Version is the daemon's semver, reported by Version.
	Version string
	// Observer is optional.
	Observer MountObserver
	// DeniedCredentialsMinAge is how old cached credentials must be before
	// an AccessDenied drops them and the read is retried once with new ones
	// (default 1m). "Revoke active sessions" shows as AccessDenied, but so
	// does a missing permission: the age bounds what a persistently denied
	// pod costs to one extra STS call per identity per this period.
	DeniedCredentialsMinAge time.Duration
}

// Server implements the driver's CSIDriverProvider gRPC service.
type Server struct {
	opts Options
	// writeLocks serialise provider-writes mode per target directory (two
	// republishes of one pod must not interleave their renames); striped so
	// the set stays bounded however many pods come and go.
	writeLocks [64]sync.Mutex
	requests   *request.Parser
	// republish remembers each volume's last successful Mount.
	republish *republishes
	// answers bounds the bytes of answers held until they are sent.
	answers *answerBudget
}

var _ v1alpha1.CSIDriverProviderServer = (*Server)(nil)

// New returns a Server; opts.Credentials, Fetcher, Regions and Catalog are
// required.
func New(opts Options) (*Server, error) {
	if opts.Credentials == nil || opts.Fetcher == nil || opts.Regions == nil {
		return nil, fmt.Errorf("server: Credentials, Fetcher and Regions are required")
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxAnswerBytesInFlight <= 0 {
		opts.MaxAnswerBytesInFlight = DefaultMaxAnswerBytesInFlight
	}
	if opts.MountTimeout <= 0 {
		opts.MountTimeout = 30 * time.Second
	}
	if opts.Version == "" {
		opts.Version = "0.0.0-dev"
	}
	if opts.DeniedCredentialsMinAge <= 0 {
		opts.DeniedCredentialsMinAge = time.Minute
	}
	classes, err := class.NewCache(512, opts.Catalog)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return &Server{opts: opts, requests: request.NewParser(classes, opts.Regions, !opts.DriverWritesSecrets),
		republish: newRepublishes(defaultRememberedVolumes),
		answers:   newAnswerBudget(int64(opts.MaxAnswerBytesInFlight))}, nil
}

// Version answers the driver's version and health probe.
func (s *Server) Version(context.Context, *v1alpha1.VersionRequest) (*v1alpha1.VersionResponse, error) {
	return &v1alpha1.VersionResponse{Version: "v1alpha1", RuntimeName: RuntimeName, RuntimeVersion: s.opts.Version}, nil
}

// Mount reads the pod's secrets and returns (or writes) its files. A failure
// is a gRPC status whose message names the object, the region and the cause;
// MountResponse.error is never set, since the driver would drop the message.
func (s *Server) Mount(ctx context.Context, req *v1alpha1.MountRequest) (*v1alpha1.MountResponse, error) {
	start := time.Now()
	if s.opts.Observer != nil {
		s.opts.Observer.MountStarted()
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.MountTimeout)
	defer cancel()

	m, err := s.mount(ctx, req, start)
	took := time.Since(start)
	outcome := "ok"
	if err != nil {
		outcome = failure.KindOf(err).String()
	}
	if s.opts.Observer != nil {
		s.opts.Observer.ObserveMount(outcome, took)
	}
	// One audit line per Mount: who, what, outcome; never a value or token.
	// Each is a key of its own (a field with --logging-format=json; the pod
	// as its name and namespace).
	kv := []any{"pod", m.pod, "secretProviderClass", m.class, "serviceAccount", m.serviceAccount,
		"identity", m.identity, "region", m.region, "files", m.files, "outcome", outcome, "duration", took.Round(time.Microsecond)}
	if err != nil {
		klog.InfoS("mount failed", append(kv, "error", err.Error())...)
		return nil, toStatus(err)
	}
	klog.V(1).InfoS("mount", kv...)
	return m.resp, nil
}

// mountRecord is what the audit line says about one Mount.
type mountRecord struct {
	pod                                     klog.ObjectRef
	class, serviceAccount, identity, region string
	files                                   int
	resp                                    *v1alpha1.MountResponse
}

func (s *Server) mount(ctx context.Context, req *v1alpha1.MountRequest, start time.Time) (mountRecord, error) {
	var rec mountRecord
	m, err := s.requests.Parse(ctx, req)
	if m != nil {
		rec.pod, rec.class, rec.serviceAccount, rec.region = klog.KRef(m.Pod.Namespace, m.Pod.Name), m.ClassName, m.Pod.ServiceAccount, m.Region
	}
	if err != nil {
		return rec, err
	}
	pod, target := m.Volume()
	values, id, err := s.fetch(ctx, m, s.republish.notBefore(pod, target))
	rec.identity = string(id.Mode)
	if err != nil {
		return rec, err
	}
	files, err := provider.BuildFiles(m.Class, values, s.opts.MaxResponseBytes)
	if err != nil {
		return rec, err
	}
	rec.files = len(files)
	if rec.resp, err = s.answer(ctx, m, files, provider.LeftOut(m.Class, values)); err != nil {
		return rec, err
	}
	s.republish.mounted(pod, target, start)
	return rec, nil
}

// answer returns the files to the driver, holding their size from the
// answers' budget until gRPC has sent them, or writes them into the pod's
// mount itself (provider-writes mode). leftOut are the file names of the
// optional objects left out, reported with an empty version (see
// provider.LeftOut).
func (s *Server) answer(ctx context.Context, m *request.Mount, files []provider.File, leftOut []string) (*v1alpha1.MountResponse, error) {
	resp := &v1alpha1.MountResponse{}
	for _, f := range files {
		resp.ObjectVersion = append(resp.ObjectVersion, &v1alpha1.ObjectVersion{Id: f.Path, Version: f.Version})
	}
	for _, name := range leftOut {
		resp.ObjectVersion = append(resp.ObjectVersion, &v1alpha1.ObjectVersion{Id: name})
	}
	if !s.opts.DriverWritesSecrets {
		if err := s.write(m.TargetPath, files); err != nil {
			return nil, failure.Wrap(failure.Internal, err, "writing the files into the pod's mount %s", m.TargetPath)
		}
		return resp, nil
	}
	size := 0
	for _, f := range files {
		resp.Files = append(resp.Files, &v1alpha1.File{Path: f.Path, Mode: f.Mode, Contents: f.Contents})
		size += len(f.Contents) + len(f.Path)
	}
	if err := s.answers.take(ctx, size); err != nil {
		return nil, failure.New(failure.Timeout, "the Mount's deadline passed while the answers of other Mounts, still being sent, held all the %d KiB the daemon may hold (--max-answer-bytes-in-flight); kubelet will retry",
			s.answers.limit>>10)
	}
	return resp, nil
}

// fetch resolves the pod's credentials and reads the class's values with
// them. When AWS rejects the credentials (ExpiredToken,
// InvalidClientTokenId...), or denies access with credentials old enough to
// predate a "Revoke active sessions", the cached credentials are dropped and
// the read is retried once with new ones (docs/design.md, invariant 8);
// values already read are served from the cache on the retry.
func (s *Server) fetch(ctx context.Context, m *request.Mount, notBefore time.Time) ([]provider.Value, auth.Identity, error) {
	for attempt := 0; ; attempt++ {
		id, creds, err := s.opts.Credentials.Resolve(ctx, m)
		if err != nil {
			return nil, id, err
		}
		values, err := s.opts.Fetcher.Fetch(ctx, provider.FetchRequest{Scope: id.Key(), Credentials: creds, Mount: m, NotBefore: notBefore})
		if err == nil || attempt > 0 {
			return values, id, err
		}
		var minAge time.Duration
		switch {
		case failure.IsCredentialRejected(err):
		case failure.IsAccessDenied(err):
			minAge = s.opts.DeniedCredentialsMinAge
		default:
			return nil, id, err
		}
		used, rerr := creds.Retrieve(ctx)
		if rerr != nil || !s.opts.Credentials.Invalidate(id, used.AccessKeyID, minAge) {
			return nil, id, err
		}
		klog.V(1).InfoS("AWS rejected cached credentials; retrying once with new ones", "mode", id.Mode,
			"namespace", id.Namespace, "serviceAccount", id.ServiceAccount, "cause", failure.KindOf(err).String())
	}
}

// write writes files into target (provider-writes mode), one writer per
// target at a time.
func (s *Server) write(target string, files []provider.File) error {
	h := fnv.New32a()
	_, _ = h.Write([]byte(target))
	mu := &s.writeLocks[h.Sum32()%uint32(len(s.writeLocks))]
	mu.Lock()
	defer mu.Unlock()
	return provider.WriteFiles(target, files)
}
