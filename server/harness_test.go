package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	spclass "github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/moto"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
	"github.com/csi-provider-aws/csi-provider-aws/kube"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
	"github.com/csi-provider-aws/csi-provider-aws/server"
)

// The integration suite runs each case against two AWS emulators: the
// in-process fake (emulators/fakeaws) and moto, an independent emulator that keeps
// the fake honest. moto does not check some things AWS does, so these cases
// run on the fake only:
//
//   - web-identity tokens (audience, expiry) and IAM denials:
//     TestFailuresTellTheUserWhatToFix, TestHundredsOfConcurrentMountsOfMixedIdentities;
//   - the 20-id BatchGetSecretValue limit, the batch permission fallback,
//     per-secret batch errors and exact call counts: provider/fetch_test.go;
//   - FIPS endpoints: provider/aws_test.go (where the SDK dials) and
//     emulators/fakeaws (TestFIPSEndpointsAreRecorded).

// backend is an AWS emulator the suite runs against (the in-process fake,
// or moto, an independent emulator that keeps the fake honest) and the
// value-cache configuration the daemon runs with: the daemon's defaults, and
// the cache off (--cache-ttl=0, the reference's behaviour).
type backend struct {
	name     string
	url      string
	fake     *fakeaws.Server // nil for moto
	cacheTTL time.Duration
	staleMax time.Duration
}

// The daemon's defaults (main.go): what users run.
const (
	defaultCacheTTL = 2 * time.Minute
	defaultStaleMax = 15 * time.Minute
)

// start runs a daemon against the backend with its cache configuration;
// o.endpoint, when set, stands in front of the backend (a fault proxy).
func (b backend) start(t testing.TB, o daemonOptions) *daemon {
	t.Helper()
	if o.endpoint == "" {
		o.endpoint = b.url
	}
	o.cacheTTL, o.staleMax = b.cacheTTL, b.staleMax
	return startDaemon(t, o)
}

// startFake starts only the in-process fake, for cases moto cannot check.
func startFake(t *testing.T) (*fakeaws.Server, string) {
	t.Helper()
	f := fakeaws.New()
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, f.URL()
}

// backends returns the fake and, when installed, moto (required in CI),
// each with the daemon's default cache and with the cache off. Without
// moto outside CI the fake half still runs.
func backends(t *testing.T) []backend {
	t.Helper()
	f, url := startFake(t)
	emulators := []backend{{name: "fake", url: url, fake: f}}
	if m := startMoto(t); m != nil {
		emulators = append(emulators, backend{name: "moto", url: m.URL()})
	}
	var out []backend
	for _, e := range emulators {
		d, off := e, e
		d.name, d.cacheTTL, d.staleMax = e.name+"/defaults", defaultCacheTTL, defaultStaleMax
		off.name = e.name + "/cache-off"
		out = append(out, d, off)
	}
	return out
}

// startMoto starts moto_server for t; without it, nil outside CI (the moto
// half is skipped with a note) and a failure in CI.
func startMoto(t *testing.T) *moto.Server {
	t.Helper()
	if os.Getenv("SKIP_MOTO") != "" && os.Getenv("CI") != "true" {
		t.Log("SKIP_MOTO is set: running the in-process fake only")
		return nil
	}
	m, err := moto.StartProcess()
	switch {
	case errors.Is(err, moto.ErrNotInstalled) && os.Getenv("CI") == "true":
		t.Fatalf("moto_server not found; CI requires it: %s", moto.InstallHint)
	case errors.Is(err, moto.ErrNotInstalled):
		t.Logf("moto_server not found; running the in-process fake only (%s)", moto.InstallHint)
		return nil
	case err != nil:
		t.Fatalf("start moto_server: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("stop moto_server: %v", err)
		}
	})
	return m
}

// callCounter is the daemon's CallRecorder in tests: AWS calls by
// "service:operation:region".
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) ObserveAWSCall(service, operation, region string, _ error, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[service+":"+operation+":"+region]++
}

func (c *callCounter) count(service, operation, region string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[service+":"+operation+":"+region]
}

func (c *callCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// daemon is the provider assembled exactly as main.go does, serving on a
// real unix socket.
type daemon struct {
	socket  string
	calls   *callCounter
	metrics *server.Metrics
	ready   *server.Readiness
	conn    *grpc.ClientConn
	client  v1alpha1.CSIDriverProviderClient
	stop    func() // stops serving at once (a crash), idempotent
}

type daemonOptions struct {
	endpoint            string
	kube                *fakekube.Server // cluster(); started here unless the test started it
	driverWritesSecrets bool
	podIdentityURL      string
	envRegion           string
	cacheTTL            time.Duration
	staleMax            time.Duration
	cacheScope          auth.ScopeMode
	mountTimeout        time.Duration // default 20s
	deniedCredsMinAge   time.Duration // default the daemon's (1m)
	maxAnswerBytes      int           // default the daemon's
	tokenFallback       bool          // --token-request-fallback
	socket              string        // default: a new one (a restart reuses the old)
}

// recorders fans one AWS call out to several observers.
type recorders []provider.CallRecorder

func (rs recorders) ObserveAWSCall(service, operation, region string, err error, took time.Duration) {
	for _, r := range rs {
		r.ObserveAWSCall(service, operation, region, err, took)
	}
}

func startDaemon(t testing.TB, o daemonOptions) *daemon {
	t.Helper()
	calls := &callCounter{}
	metrics := server.NewMetrics()
	cfg, err := provider.LoadAWSConfig(context.Background(), provider.AWSConfigOptions{
		Recorder: recorders{calls, metrics}, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(o.endpoint)
	clients := provider.NewClients(cfg)
	if o.kube.URL() == "" {
		if err := o.kube.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(o.kube.Close)
	}
	kubeconfig, err := o.kube.Kubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kubeClient, err := kube.Start(t.Context(), kube.Options{Kubeconfig: kubeconfig, QPS: 50, Burst: 100, NodeName: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	irsa := auth.NewIRSA(func(region string) auth.STSAPI { return clients.STS(region) }, auth.IRSAOptions{})
	pi := auth.NewPodIdentity(auth.PodIdentityOptions{IPv4Endpoint: o.podIdentityURL, IPv6Endpoint: o.podIdentityURL})
	credOpts := auth.CredentialsOptions{Roles: kubeClient,
		Providers: map[auth.Mode]auth.Provider{auth.ModeIRSA: irsa, auth.ModePodIdentity: pi}, Scope: o.cacheScope,
		Observer: metrics, Chain: auth.NewChain(func(region string) auth.AssumeRoleAPI { return clients.STS(region) })}
	if o.tokenFallback {
		credOpts.Tokens = kubeClient
	}
	creds, err := auth.NewCredentials(credOpts)
	if err != nil {
		t.Fatal(err)
	}
	if o.mountTimeout == 0 {
		o.mountTimeout = 20 * time.Second
	}
	fetcher := provider.NewFetcher(clients, provider.FetcherOptions{CacheTTL: o.cacheTTL, StaleMax: o.staleMax, Observer: metrics})
	metrics.WatchCache(fetcher.CacheStats)
	srv, err := server.New(server.Options{
		Credentials:             creds,
		Fetcher:                 fetcher,
		Regions:                 kube.NewRegions(kubeClient, o.envRegion, "node-1"),
		Catalog:                 spclass.Catalog{Services: provider.Services(), Modes: auth.Modes()},
		DriverWritesSecrets:     o.driverWritesSecrets,
		MountTimeout:            o.mountTimeout,
		Version:                 "1.2.3",
		Observer:                metrics,
		DeniedCredentialsMinAge: o.deniedCredsMinAge,
		MaxAnswerBytesInFlight:  o.maxAnswerBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{socket: o.socket, calls: calls, metrics: metrics}
	d.serve(t, srv)
	return d
}

// serve serves srv on d.socket (a new one when empty) as main.go does, and
// connects d's client to it.
func (d *daemon) serve(t testing.TB, srv *server.Server) {
	t.Helper()
	if d.socket == "" {
		dir, err := os.MkdirTemp("", "csi-provider-aws-sock-") // short path: unix socket names are limited
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		d.socket = filepath.Join(dir, "aws.sock")
	}
	lis, err := server.Listen(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	d.ready = server.NewReadiness(d.metrics)
	g := server.NewGRPCServer(srv, d.metrics, d.ready)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	d.stop = g.Stop
	d.ready.Serving() // as main.go does once kube.Start has returned and the socket listens

	if d.conn, err = grpc.NewClient("unix://"+d.socket, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.conn.Close() })
	d.client = v1alpha1.NewCSIDriverProviderClient(d.conn)
}

// metric returns the value of the daemon's counter or gauge name whose
// labels include want (0 when there is none).
func (d *daemon) metric(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := d.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total
}

// cluster is the Kubernetes the daemon reads: annotated ServiceAccounts and a
// labelled node, served over HTTP by fakekube once a daemon starts on it.
func cluster(objs ...*corev1.ServiceAccount) *fakekube.Server {
	c := fakekube.New()
	c.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "us-west-2"})
	for _, sa := range objs {
		c.AddServiceAccount(sa.Namespace, sa.Name, sa.Annotations)
	}
	return c
}

func serviceAccount(ns, name, role string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if role != "" {
		sa.Annotations = map[string]string{"eks.amazonaws.com/role-arn": role}
	}
	return sa
}

// pod is who mounts: what kubelet and the driver put in the attributes.
type pod struct {
	ns, name, sa string
	uid          string // default "uid-" + name
	audiences    []string
	tokenExp     time.Time
}

func (p pod) attributes(params map[string]string) string {
	return testkit.Mount{Namespace: p.ns, Pod: p.name, UID: p.uid, ServiceAccount: p.sa, Params: params,
		Audiences: p.audiences, TokenExpires: p.tokenExp}.Attributes()
}

// mount calls Mount as the driver does and returns the answer.
func (d *daemon) mount(t testing.TB, p pod, params map[string]string, target string) (*v1alpha1.MountResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.client.Mount(ctx, &v1alpha1.MountRequest{
		Attributes: p.attributes(params), Secrets: "{}", TargetPath: target, Permission: "420",
	})
}

// seeder writes test data into a backend through the real AWS SDK, as a user
// would, so the same data exists in the fake and in moto.
type seeder struct {
	t   *testing.T
	url string
	// creds are whose the seeding calls are (default a static key of
	// moto's default account; see asRole).
	creds aws.CredentialsProvider
}

func (s seeder) credentials() aws.CredentialsProvider {
	if s.creds != nil {
		return s.creds
	}
	return credentials.NewStaticCredentialsProvider("AKIDSEED", "seed", "")
}

func (s seeder) sm(region string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(s.url), Credentials: s.credentials()})
}

func (s seeder) ssm(region string) *ssm.Client {
	return ssm.New(ssm.Options{Region: region, BaseEndpoint: aws.String(s.url), Credentials: s.credentials()})
}

// asRole is a seeder that acts as roleARN (sts:AssumeRole with the seed
// key): moto keeps each account's data apart and puts what an assumed role
// creates in the role's account.
func (s seeder) asRole(roleARN string) seeder {
	s.t.Helper()
	out, err := sts.New(sts.Options{Region: "us-west-2", BaseEndpoint: aws.String(s.url), Credentials: s.credentials()}).
		AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("seeder")})
	if err != nil {
		s.t.Fatalf("seeding as %s: %v", roleARN, err)
	}
	c := out.Credentials
	s.creds = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return s
}

// secret creates (or rotates) a string secret and returns its ARN and the
// new version id.
func (s seeder) secret(region, name, value string) (arn, version string) {
	s.t.Helper()
	ctx := context.Background()
	out, err := s.sm(region).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err == nil {
		return aws.ToString(out.ARN), aws.ToString(out.VersionId)
	}
	var exists *smtypes.ResourceExistsException
	if !errorsAs(err, &exists) {
		s.t.Fatalf("seeding secret %s: %v", name, err)
	}
	put, err := s.sm(region).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		s.t.Fatalf("rotating secret %s: %v", name, err)
	}
	return aws.ToString(put.ARN), aws.ToString(put.VersionId)
}

func (s seeder) binarySecret(region, name string, value []byte) (arn, version string) {
	s.t.Helper()
	out, err := s.sm(region).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretBinary: value})
	if err != nil {
		s.t.Fatalf("seeding binary secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN), aws.ToString(out.VersionId)
}

func (s seeder) parameter(region, name string, typ ssmtypes.ParameterType, value string) int64 {
	s.t.Helper()
	out, err := s.ssm(region).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Type: typ, Value: aws.String(value), Overwrite: aws.Bool(true)})
	if err != nil {
		s.t.Fatalf("seeding parameter %s: %v", name, err)
	}
	return out.Version
}

func (s seeder) label(region, name string, version int64, label string) {
	s.t.Helper()
	if _, err := s.ssm(region).LabelParameterVersion(context.Background(), &ssm.LabelParameterVersionInput{
		Name: aws.String(name), ParameterVersion: aws.Int64(version), Labels: []string{label}}); err != nil {
		s.t.Fatalf("labelling parameter %s: %v", name, err)
	}
}

// regionFaultProxy sits in front of a backend and answers 500 for every
// request signed for one region: one emulator port serves every region, so
// the region is read from the SigV4 credential scope.
type regionFaultProxy struct {
	*httptest.Server
	mu       sync.Mutex
	failing  map[string]bool
	requests map[string]int
}

var scopeRE = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/`)

func newRegionFaultProxy(t *testing.T, target string) *regionFaultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &regionFaultProxy{failing: map[string]bool{}, requests: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region := ""
		if m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			region = m[1]
		}
		p.mu.Lock()
		fail := p.failing[region]
		p.requests[region]++
		p.mu.Unlock()
		if fail {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"InternalServiceError","message":"injected failure"}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *regionFaultProxy) fail(region string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing[region] = true
}

func (p *regionFaultProxy) count(region string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[region]
}

// podIdentityAgent is a fake EKS Pod Identity agent on loopback: it hands
// out credentials only for a pods.eks.amazonaws.com token.
func podIdentityAgent(t *testing.T) (*httptest.Server, *int) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		tok := r.Header.Get("Authorization")
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			http.Error(w, `{"message":"malformed token"}`, http.StatusBadRequest)
			return
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims struct {
			Aud []string `json:"aud"`
		}
		_ = json.Unmarshal(payload, &claims)
		if len(claims.Aud) != 1 || claims.Aud[0] != "pods.eks.amazonaws.com" {
			http.Error(w, `{"message":"token audience is not pods.eks.amazonaws.com"}`, http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": "ASIAPODIDENTITY", "SecretAccessKey": "pod-identity-secret", "Token": "pod-identity-session",
			"AccountId": "111122223333", "Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
