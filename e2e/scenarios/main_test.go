//go:build e2e

// Package scenarios is the end-to-end suite: what a user of the provider sees
// when the real Secrets Store CSI Driver, a real kube-apiserver and our daemon
// run together against moto, with the test playing kubelet. Each test is one
// scenario of issue 3 and asserts on files in the pod's tmpfs, their modes,
// Kubernetes Secrets and the error text kubelet would show.
package scenarios

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
	"github.com/csi-provider-aws/csi-provider-aws/e2e/kubelet"
)

const (
	// nodeName is the shared driver's --nodeid and the daemon's node.
	nodeName = "e2e-node"
	// primaryRegion is the node's region label; failoverRegion the other.
	primaryRegion  = "us-west-2"
	failoverRegion = "us-east-1"
	// account is moto's default account.
	account = "123456789012"
	// pollInterval is the driver's --rotation-poll-interval: a republish
	// sooner than this after the last write does not reach the provider.
	pollInterval = 4 * time.Second
	// cacheTTL is the daemon's --cache-ttl.
	cacheTTL = 3 * time.Second
)

// env is what every scenario shares: one control plane, one moto, one
// daemon, and driver v1.6.1 with its kubelet stand-in. Scenarios that need
// something else (driver v1.5.6, a daemon without the tap) start their own.
var env *environment

type environment struct {
	// kube and dyn reach the API server of either backend.
	kube kubernetes.Interface
	dyn  dynamic.Interface
	// kind is the kind backend (E2E_BACKEND=kind), nil on the local control
	// plane; every field below it is the local backend's, nil on kind.
	kind *kindBackend

	ws       *cluster.Workspace
	repoRoot string
	cp       *cluster.ControlPlane

	moto    *cluster.Moto
	aws     *cluster.AWSProxy // the daemon's AWS_ENDPOINT_URL
	agent   *cluster.PodIdentityAgent
	daemon  *cluster.Daemon
	tap     *cluster.ProviderTap // <providers>/aws.sock -> daemon
	driver  *cluster.Driver      // v1.6.1
	kubelet *kubelet.Kubelet

	daemonBin        string
	driverKubeconfig string
	daemonKubeconfig string

	// Clients that seed moto directly (not through the fault proxy).
	sm  map[string]*secretsmanager.Client
	ssm map[string]*ssm.Client
}

func TestMain(m *testing.M) {
	if onKind() {
		// Nothing runs or mounts on this machine: no mount namespace.
		flag.Parse()
		os.Exit(runOnKind(m))
	}
	if code, handled := cluster.ReexecInPrivateMountNamespace(); handled {
		os.Exit(code)
	}
	flag.Parse()
	os.Exit(run(m))
}

// localOnly skips a test, or a subtest, on the kind backend: what it
// checks needs a piece only the local control plane has (the provider
// socket tap, the AWS fault proxy, the fake Pod Identity agent, a second
// driver or daemon the test starts, the processes' sockets).
func localOnly(t *testing.T, needs string) {
	t.Helper()
	if env.kind != nil {
		t.Skipf("local backend only: needs %s", needs)
	}
}

// driverLogTail is the last n lines of the shared driver's log.
func driverLogTail(n int) string {
	if env.kind != nil {
		return env.kind.driverLogTail(n)
	}
	return env.driver.Proc.LogTail(n)
}

func run(m *testing.M) (code int) {
	if err := cluster.CleanStale(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cleaning what earlier runs left: %v\n", err)
	}
	ci := os.Getenv("CI") == "true"
	start := time.Now()
	e, err := setUp()
	if e != nil {
		env = e
		defer func() {
			if err := tearDown(e); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
				if code == 0 {
					code = 1
				}
			}
		}()
	}
	if err != nil {
		var skip skipError
		if errors.As(err, &skip) && !ci {
			fmt.Printf("e2e: skipped: %v\n", err)
			return 0
		}
		fmt.Fprintf(os.Stderr, "e2e: setting up: %v\n", err)
		failed = true
		return 1
	}
	fmt.Printf("e2e: environment up in %v (workspace %s)\n", time.Since(start).Round(time.Millisecond), e.ws.Dir)
	stopWatchdog := watchdog(e)
	defer stopWatchdog()
	code = m.Run()
	if code != 0 {
		failed = true
	}
	return code
}

// tearDown stops everything, then checks that it really left no process,
// mount or directory behind.
func tearDown(e *environment) error {
	pids := e.ws.Pids()
	kept, err := e.ws.Teardown(failed)
	if kept != "" {
		fmt.Fprintf(os.Stderr, "e2e: logs of the failed run kept in %s\n", kept)
	}
	if err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	var left []string
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			left = append(left, fmt.Sprintf("pid %d", pid))
		}
	}
	if ms, _ := cluster.MountsUnder(e.ws.Dir); len(ms) > 0 {
		left = append(left, fmt.Sprintf("mounts %v", ms))
	}
	if _, err := os.Stat(e.ws.Dir); !os.IsNotExist(err) {
		left = append(left, "directory "+e.ws.Dir)
	}
	if len(left) > 0 {
		return fmt.Errorf("teardown left %s", strings.Join(left, ", "))
	}
	return nil
}

// failed keeps the logs at teardown.
var failed bool

type skipError struct{ error }

// watchdog tears down shortly before go test's -timeout would kill the
// binary without running any cleanup.
func watchdog(e *environment) (stop func()) {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return func() {}
	}
	d, _ := time.ParseDuration(f.Value.String())
	if d <= 30*time.Second {
		return func() {}
	}
	t := time.AfterFunc(d-20*time.Second, func() {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		fmt.Fprintf(os.Stderr, "e2e: -timeout %v nearly reached; tearing down\n%s\n", d, buf[:n])
		kept, _ := e.ws.Teardown(true)
		fmt.Fprintf(os.Stderr, "e2e: logs kept in %s\n", kept)
		os.Exit(1)
	})
	return func() { t.Stop() }
}

func setUp() (*environment, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "secrets-store-csi-driver-v1.6.1", "secrets-store-csi-driver-v1.5.6"} {
		if _, err := cluster.Binary(b); err != nil {
			return nil, skipError{err}
		}
	}
	ws, err := cluster.NewWorkspace()
	if err != nil {
		return nil, err
	}
	e := &environment{ws: ws}
	if e.repoRoot, err = cluster.RepoRoot(); err != nil {
		return e, err
	}

	// The daemon builds while the control plane starts, unless
	// E2E_DAEMON_BIN names one already built.
	built := make(chan error, 1)
	if e.daemonBin = os.Getenv("E2E_DAEMON_BIN"); e.daemonBin != "" {
		built <- nil
	} else {
		e.daemonBin = ws.Path("bin", "csi-provider-aws")
		go func() { built <- cluster.BuildDaemon(e.repoRoot, e.daemonBin) }()
	}

	t0 := time.Now()
	if e.cp, err = cluster.StartControlPlane(ctx, ws); err != nil {
		return e, err
	}
	e.kube, e.dyn = e.cp.Client, e.cp.Dynamic
	logf("control plane ready in %v", time.Since(t0).Round(time.Millisecond))

	if e.moto, err = cluster.StartMoto(ctx, ws); err != nil {
		if errors.Is(err, cluster.ErrMotoMissing) {
			return e, skipError{err}
		}
		return e, err
	}
	if e.aws, err = cluster.StartAWSProxy(e.moto.URL); err != nil {
		return e, err
	}
	if e.agent, err = cluster.StartPodIdentityAgent(e.cp.Client); err != nil {
		return e, err
	}
	e.seedClients()

	if err := e.installDriverObjects(ctx); err != nil {
		return e, err
	}
	if err := e.installDaemonIdentity(ctx); err != nil {
		return e, fmt.Errorf("the daemon's ServiceAccount and RBAC: %w", err)
	}
	if err := e.createNode(ctx, nodeName); err != nil {
		return e, err
	}

	if err := <-built; err != nil {
		return e, err
	}
	providers, _ := ws.Mkdir("providers")
	daemonDir, _ := ws.Mkdir("daemon")
	if e.daemon, err = e.startDaemon(ctx, daemonDir); err != nil {
		return e, err
	}
	if e.tap, err = cluster.StartProviderTap(filepath.Join(providers, "aws.sock"), e.daemon.SocketPath); err != nil {
		return e, err
	}
	if e.driver, err = cluster.StartDriver(ctx, ws, cluster.DriverOptions{
		Version:              "v1.6.1",
		NodeID:               nodeName,
		ProviderDir:          providers,
		Kubeconfig:           e.driverKubeconfig,
		RotationPollInterval: pollInterval,
	}); err != nil {
		return e, err
	}
	if e.kubelet, err = kubelet.New(e.cp.Client, e.driver.Endpoint, cluster.DriverName, nodeName, ws.Path("kubelet")); err != nil {
		return e, err
	}
	return e, nil
}

// installDriverObjects applies the driver's CRDs and RBAC (both versions'),
// the CSIDriver object, and writes a kubeconfig with the driver's own
// least-privilege ServiceAccount token.
func (e *environment) installDriverObjects(ctx context.Context) error {
	for _, v := range []string{"v1.6.1", "v1.5.6"} {
		dir, err := cluster.DriverModuleDir(e.repoRoot, v)
		if err != nil {
			return err
		}
		files := cluster.DriverManifests(dir, v)
		if v == "v1.5.6" {
			files = files[len(files)-2:] // only its extra RBAC; v1.6.1's CRDs serve both
		}
		if err := e.cp.Apply(ctx, files...); err != nil {
			return fmt.Errorf("applying driver %s manifests: %w", v, err)
		}
	}
	if err := e.cp.SetCSIDriver(ctx, cluster.DefaultCSIDriver); err != nil {
		return fmt.Errorf("CSIDriver: %w", err)
	}
	tok, err := e.cp.ServiceAccountToken(ctx, "kube-system", "secrets-store-csi-driver", 2*time.Hour)
	if err != nil {
		return err
	}
	e.driverKubeconfig = e.ws.Path("kubeconfig-driver")
	return e.cp.WriteKubeconfig(e.driverKubeconfig, tok)
}

// installDaemonIdentity gives the daemon a ServiceAccount with the rules of
// the chart's ClusterRole (charts/csi-provider-aws/templates/clusterrole.yaml)
// and no more, so a daemon that starts reading something else fails here
// before it fails in a cluster.
func (e *environment) installDaemonIdentity(ctx context.Context) error {
	const name, ns = "csi-provider-aws", "kube-system"
	c := e.cp.Client
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	tok, err := e.cp.ServiceAccountToken(ctx, ns, name, 2*time.Hour)
	if err != nil {
		return err
	}
	e.daemonKubeconfig = e.ws.Path("kubeconfig-daemon")
	return e.cp.WriteKubeconfig(e.daemonKubeconfig, tok)
}

func (e *environment) createNode(ctx context.Context, name string) error {
	_, err := e.cp.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{
			"topology.kubernetes.io/region": primaryRegion,
			"topology.kubernetes.io/zone":   primaryRegion + "a",
			"kubernetes.io/hostname":        name,
		},
	}}, metav1.CreateOptions{})
	return err
}

// startDaemon starts our daemon listening in dir, pointed at the fault
// proxy, the fake Pod Identity agent and the shared node.
func (e *environment) startDaemon(ctx context.Context, dir string) (*cluster.Daemon, error) {
	// Shorter than the poll interval: a republish past the interval always
	// finds the cached value expired and reads AWS again.
	return e.startDaemonWith(ctx, dir, "--cache-ttl="+cacheTTL.String())
}

// startDaemonWith starts a daemon on dir with extra flags (none: the
// daemon's defaults).
func (e *environment) startDaemonWith(ctx context.Context, dir string, extraArgs ...string) (*cluster.Daemon, error) {
	return cluster.StartDaemon(ctx, e.ws, cluster.DaemonOptions{
		Bin:            e.daemonBin,
		SocketDir:      dir,
		Kubeconfig:     e.daemonKubeconfig,
		NodeName:       nodeName,
		EndpointURL:    e.aws.URL,
		PodIdentityURL: e.agent.URL,
		Verbosity:      2,
		ExtraArgs:      extraArgs,
	})
}

func (e *environment) seedClients() {
	e.sm = map[string]*secretsmanager.Client{}
	e.ssm = map[string]*ssm.Client{}
	creds := credentials.NewStaticCredentialsProvider("AKIDSEED", "seed-secret", "")
	for _, r := range []string{primaryRegion, failoverRegion} {
		cfg := aws.Config{Region: r, Credentials: creds, BaseEndpoint: aws.String(e.moto.URL)}
		e.sm[r] = secretsmanager.NewFromConfig(cfg)
		e.ssm[r] = ssm.NewFromConfig(cfg)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("e2e: "+format+"\n", args...)
}

// lines of a log that contain every one of subs.
func grepLines(log string, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}
