package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"sigs.k8s.io/secrets-store-csi-driver/pkg/util/fileutil"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
)

// Bounds of the steps that wait.
const (
	socketTimeout   = 20 * time.Second
	mountTimeout    = 30 * time.Second
	rotationTimeout = 30 * time.Second
	republishEvery  = 500 * time.Millisecond
	stopTimeout     = 15 * time.Second
)

// demo is one run: what it started, and what it measured.
type demo struct {
	opts      options
	out       io.Writer
	errOut    io.Writer
	start     time.Time
	buildTook time.Duration

	dir    string
	aws    *awsBackend
	kube   *fakekube.Server
	log    *logSink
	daemon *daemon
	conn   *grpc.ClientConn
	client v1alpha1.CSIDriverProviderClient

	kept         string // the temp dir, when --keep left it
	cacheTTLFlag string // "--cache-ttl=5s" when passed
	attrs        string
	target       string
	latencies    []time.Duration // every Mount, as the driver would time it
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// short replaces the temp dir in paths with $tmp.
func (d *demo) short(s string) string {
	if d.dir == "" {
		return s
	}
	return strings.ReplaceAll(s, d.dir, "$tmp")
}

func (d *demo) run(ctx context.Context) error {
	var err error
	if d.dir, err = os.MkdirTemp("", "csi-aws-demo-"); err != nil {
		return err
	}
	d.printf("csi-provider-aws demo: the real daemon against stand-ins for AWS and Kubernetes; no cluster, no AWS account.\n")
	d.printf("tmp=%s\n\n", d.dir)

	secretV, paramV, err := d.startAWS(ctx)
	if err != nil {
		return stepError("step 1, AWS stand-in", err)
	}
	kubeconfig, err := d.startKube()
	if err != nil {
		return stepError("step 2, Kubernetes stand-in", err)
	}
	if err := d.startDaemon(ctx, kubeconfig); err != nil {
		return stepError("step 3, daemon", err)
	}
	if err := d.firstMount(ctx, secretV, strconv.FormatInt(paramV, 10)); err != nil {
		return stepError("step 4, mount", err)
	}
	if err := d.rotate(ctx, secretV, strconv.FormatInt(paramV, 10)); err != nil {
		return stepError("step 5, rotation", err)
	}
	if err := d.report(ctx); err != nil {
		return stepError("step 6, calls and latency", err)
	}
	if err := d.stop(); err != nil {
		return stepError("step 7, shutdown", err)
	}
	return nil
}

// startAWS is step 1.
func (d *demo) startAWS(ctx context.Context) (string, int64, error) {
	var err error
	if d.aws, err = startAWS(d.opts.aws); err != nil {
		return "", 0, err
	}
	secretV, paramV, err := d.aws.seed(ctx)
	if err != nil {
		return "", 0, err
	}
	if d.opts.prepareFake != nil && d.aws.fake != nil {
		d.opts.prepareFake(d.aws.fake)
	}
	d.printf("1. AWS: %s at %s\n", d.aws.name, d.aws.url)
	d.printf("     secret     %-20s Secrets Manager, JSON, version %s\n", secretName, secretV)
	d.printf("     parameter  %-20s SSM SecureString, version %d\n", parameterName, paramV)
	if d.aws.fake != nil {
		d.printf("     role       %s, trusting system:serviceaccount:%s:%s\n", roleARN, namespace, serviceAccount)
	} else {
		d.printf("     role       %s (moto lets any token assume it)\n", roleARN)
	}
	return secretV, paramV, nil
}

// startKube is step 2.
func (d *demo) startKube() (string, error) {
	d.kube = fakekube.New()
	if err := d.kube.Start(); err != nil {
		return "", err
	}
	d.kube.AddServiceAccount(namespace, serviceAccount, map[string]string{"eks.amazonaws.com/role-arn": roleARN})
	d.kube.AddNode(nodeName, map[string]string{"topology.kubernetes.io/region": region})
	d.kube.AddPod(namespace, podName, nodeName, serviceAccount)
	path, err := d.kube.Kubeconfig(d.dir)
	if err != nil {
		return "", err
	}
	d.printf("\n2. Kubernetes: emulators/fakekube at %s, kubeconfig %s\n", d.kube.URL(), d.short(path))
	d.printf("     %-24s eks.amazonaws.com/role-arn=%s\n", "ServiceAccount "+namespace+"/"+serviceAccount, roleARN)
	d.printf("     %-24s topology.kubernetes.io/region=%s\n", "Node "+nodeName, region)
	d.printf("     %-24s on %s, as %s\n", "Pod "+namespace+"/"+podName, nodeName, serviceAccount)
	return path, nil
}

// startDaemon is step 3: build, start, wait for the socket, ask Version.
func (d *demo) startDaemon(ctx context.Context, kubeconfig string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	began := time.Now()
	bin, err := buildDaemon(ctx, root, d.dir)
	if err != nil {
		return err
	}
	d.buildTook = time.Since(began)

	providers := filepath.Join(d.dir, "providers")
	args := []string{"--provider-volume", providers, "--kubeconfig", kubeconfig, "--node-name", nodeName,
		"--http-addr", "127.0.0.1:0", "-v=1"}
	if hasFlag(ctx, bin, "cache-ttl") {
		d.cacheTTLFlag = "--cache-ttl=" + d.opts.cacheTTL.String()
		args = append(args, d.cacheTTLFlag)
	}
	var stream io.Writer
	if d.opts.verbose {
		stream = d.errOut
	}
	if d.log, err = newLogSink(filepath.Join(d.dir, "daemon.log"), stream); err != nil {
		return err
	}
	began = time.Now()
	d.daemon, err = startDaemon(bin, args, daemonEnv(d.aws.url, d.dir), d.log, filepath.Join(providers, "aws.sock"))
	if err != nil {
		return err
	}
	if err := d.daemon.waitSocket(ctx, socketTimeout); err != nil {
		return err
	}
	socketAfter := time.Since(began)
	if d.conn, err = grpc.NewClient("unix://"+d.daemon.socket, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return err
	}
	d.client = v1alpha1.NewCSIDriverProviderClient(d.conn)
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := d.client.Version(vctx, &v1alpha1.VersionRequest{Version: "v1alpha1"})
	if err != nil {
		return fmt.Errorf("Version over %s: %w", d.daemon.socket, err)
	}

	d.printf("\n3. Daemon: go build %s in %s; started pid %d:\n", root, round(d.buildTook), d.daemon.pid())
	d.printf("     csi-provider-aws %s\n", d.short(strings.Join(args, " ")))
	d.printf("     env AWS_ENDPOINT_URL=%s AWS_EC2_METADATA_DISABLED=true; AWS_REGION unset, so the node's label decides the region\n", d.aws.url)
	if d.cacheTTLFlag != "" {
		d.printf("     %s: short, so that the rotation in step 5 lands within the demo\n", d.cacheTTLFlag)
	}
	d.printf("     socket %s up after %s; Version says %s %s (%s)\n", d.short(d.daemon.socket), round(socketAfter),
		v.GetRuntimeName(), v.GetRuntimeVersion(), v.GetVersion())
	return nil
}

// mount sends one Mount as the driver does and writes the answer with the
// driver's writer.
func (d *demo) mount(ctx context.Context) (*v1alpha1.MountResponse, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, mountTimeout)
	defer cancel()
	began := time.Now()
	resp, err := d.client.Mount(ctx, &v1alpha1.MountRequest{
		Attributes: d.attrs, Secrets: "{}", TargetPath: d.target, Permission: "420",
	})
	took := time.Since(began)
	if err != nil {
		return nil, took, fmt.Errorf("Mount failed: %w", err)
	}
	if code := resp.GetError().GetCode(); code != "" {
		return nil, took, fmt.Errorf("Mount answered error code %q", code)
	}
	d.latencies = append(d.latencies, took)
	if err := fileutil.WritePayloads(d.target, resp.GetFiles()); err != nil {
		return nil, took, fmt.Errorf("the driver's fileutil.WritePayloads refused the answer: %w", err)
	}
	return resp, took, nil
}

// want is what the pod must see: contents, mode and version per file.
type want map[string]struct {
	data    string
	mode    os.FileMode
	version string
}

func check(files map[string]podFile, vers map[string]string, w want) error {
	var problems []string
	for _, name := range sortedKeys(w) {
		exp := w[name]
		f, ok := files[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing", name))
		case f.data != exp.data:
			problems = append(problems, fmt.Sprintf("%s holds %s, want %s", name, quote(f.data, 60), quote(exp.data, 60)))
		case f.mode != exp.mode:
			problems = append(problems, fmt.Sprintf("%s has mode %04o, want %04o", name, f.mode, exp.mode))
		case vers[name] != exp.version:
			problems = append(problems, fmt.Sprintf("%s reports version %q, want %q", name, vers[name], exp.version))
		}
	}
	for _, name := range sortedKeys(files) {
		if _, ok := w[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected file %s", name))
		}
	}
	if len(problems) > 0 {
		return errors.New("the pod would see the wrong files: " + strings.Join(problems, "; "))
	}
	return nil
}

func expected(secretData, password, secretV, paramV string) want {
	return want{
		"demo_db-credentials": {secretData, 0o644, secretV},
		"db-username":         {"app", 0o644, secretV},
		"db-password":         {password, 0o400, secretV},
		"api-key":             {apiKey, 0o644, paramV},
	}
}

// firstMount is step 4.
func (d *demo) firstMount(ctx context.Context, secretV, paramV string) error {
	class, params, err := spcParameters(classYAML)
	if err != nil {
		return err
	}
	if d.attrs, err = mountAttributes(class, params, time.Now().Add(time.Hour)); err != nil {
		return err
	}
	d.target = filepath.Join(d.dir, "pod", "mount")
	if err := os.MkdirAll(d.target, 0o755); err != nil {
		return err
	}
	resp, took, err := d.mount(ctx)
	if err != nil {
		return err
	}
	files, err := readPodDir(d.target)
	if err != nil {
		return err
	}
	vers := versions(resp)
	if err := check(contents(files), vers, expected(secretV1, password1, secretV, paramV)); err != nil {
		return err
	}
	d.printf("\n4. Mount: class %s (examples/demo/secretproviderclass.yaml: a jmesPath secret and an SSM SecureString, no region)\n", class)
	d.printf("     through the driver's provider/v1alpha1 client: %d files in %s, written by the driver's fileutil.WritePayloads:\n",
		len(resp.GetFiles()), round(took))
	printTree(d.out, "     ", d.short(d.target), files, nil)
	d.printf("     object versions: %s\n", groupVersions(vers))
	return nil
}

// groupVersions prints "a, b = v1; c = v2".
func groupVersions(vers map[string]string) string {
	byVersion := map[string][]string{}
	for id, v := range vers {
		byVersion[v] = append(byVersion[v], id)
	}
	var parts []string
	for _, v := range sortedKeys(byVersion) {
		ids := byVersion[v]
		slices.Sort(ids)
		parts = append(parts, strings.Join(ids, ", ")+" = "+v)
	}
	return strings.Join(parts, "; ")
}

// rotate is step 5: a new secret version, then republish like kubelet until
// the pod sees it.
func (d *demo) rotate(ctx context.Context, oldV, paramV string) error {
	before, err := readPodDir(d.target)
	if err != nil {
		return err
	}
	newV, err := d.aws.rotate(ctx)
	if err != nil {
		return err
	}
	rotatedAt := time.Now()
	var (
		resp  *v1alpha1.MountResponse
		stale int
	)
	for {
		if resp, _, err = d.mount(ctx); err != nil {
			return err
		}
		files, err := readPodDir(d.target)
		if err != nil {
			return err
		}
		if f := contents(files)[watchedFile]; f.data == password2 && versions(resp)[watchedFile] == newV {
			break
		}
		stale++
		if time.Since(rotatedAt) > rotationTimeout {
			return fmt.Errorf("after %s of republishing every %s the pod still sees %s version %s; want the rotated value, version %s",
				rotationTimeout, republishEvery, watchedFile, versions(resp)[watchedFile], newV)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(republishEvery):
		}
	}
	landed := time.Since(rotatedAt)
	after, err := readPodDir(d.target)
	if err != nil {
		return err
	}
	vers := versions(resp)
	if err := check(contents(after), vers, expected(secretV2, password2, newV, paramV)); err != nil {
		return err
	}

	d.printf("\n5. Rotation: PutSecretValue %s through the AWS SDK: version %s\n", secretName, newV)
	switch {
	case stale == 0:
		d.printf("     the next republish carried it (%s after the rotation)\n", round(landed))
	case d.cacheTTLFlag != "":
		d.printf("     republishing every %s: %d answers came from the daemon's value cache (%s), then the new value, %s after the rotation\n",
			republishEvery, stale, d.cacheTTLFlag, round(landed))
	default:
		d.printf("     republishing every %s: %d answers still had the old value, then the new one, %s after the rotation\n",
			republishEvery, stale, round(landed))
	}
	old, cur := contents(before), contents(after)
	for _, name := range sortedKeys(cur) {
		switch {
		case old[name].data != cur[name].data:
			was, now := around(old[name].data, cur[name].data, 30)
			d.printf("     %-20s %s -> %s\n", name, was, now)
		case name == "api-key":
			d.printf("     %-20s unchanged, version %s\n", name, vers[name])
		default:
			d.printf("     %-20s same contents, new version (a jmesPath file carries its secret's)\n", name)
		}
	}
	d.printf("     object versions: %s (was %s)\n", groupVersions(vers), oldV)
	return nil
}

// report is step 6: what it cost.
func (d *demo) report(ctx context.Context) error {
	metrics, err := d.daemon.metrics(ctx)
	if err != nil {
		return fmt.Errorf("reading the daemon's /metrics: %w", err)
	}
	calls, source := d.aws.daemonCalls(), "counted by the fake"
	if calls == nil {
		calls, source = map[string]int{}, "from the daemon's csi_provider_aws_api_calls_total; moto keeps no count"
		for _, s := range samples(metrics, "csi_provider_aws_api_calls_total") {
			calls[s.labels["service"]+":"+s.labels["operation"]] += int(s.value)
		}
	}
	mounts := len(d.latencies)
	d.printf("\n6. Cost of %d Mounts (1 first mount, %d republishes)\n", mounts, mounts-1)
	d.printf("     AWS calls (%s): %s\n", source, formatCounts(calls))
	d.printf("     Kubernetes API calls (counted by fakekube): %s\n", formatCounts(d.kube.Calls()))
	rest := slices.Clone(d.latencies[1:])
	slices.Sort(rest)
	line := fmt.Sprintf("     Mount latency at the driver: first %s (STS and AWS reads)", round(d.latencies[0]))
	if len(rest) > 0 {
		line += fmt.Sprintf(", republishes p50 %s, max %s", round(rest[len(rest)/2]), round(rest[len(rest)-1]))
	}
	d.printf("%s\n", line)
	var sum, count float64
	for _, s := range samples(metrics, "csi_provider_aws_mount_duration_seconds_sum") {
		sum += s.value
	}
	for _, s := range samples(metrics, "csi_provider_aws_mount_duration_seconds_count") {
		count += s.value
	}
	switch {
	case count == 0:
		d.printf("     the daemon's /metrics has no csi_provider_aws_mount_duration_seconds\n")
	case int(count) != mounts:
		return fmt.Errorf("the daemon's histogram counts %.0f Mounts, the demo sent %d", count, mounts)
	default:
		d.printf("     Mount latency in the daemon (csi_provider_aws_mount_duration_seconds): mean %s over %.0f\n",
			round(time.Duration(sum/count*float64(time.Second))), count)
	}
	return nil
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// stop is step 7: SIGTERM, a clean exit, no socket left, no temp dir left.
func (d *demo) stop() error {
	d.conn.Close()
	d.conn = nil
	took, err := d.daemon.stop(stopTimeout)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(d.daemon.socket); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the daemon exited but left %s behind (%v)", d.daemon.socket, err)
	}
	if err := d.cleanup(); err != nil {
		return err
	}
	kept := "temp dir removed"
	if d.kept != "" {
		kept = "kept " + d.kept + " (the pod's files, daemon.log)"
	}
	d.printf("\n7. Stop: SIGTERM -> exit status 0 in %s, socket removed; %s\n", round(took), kept)
	return nil
}

// cleanup releases everything; safe to call more than once.
func (d *demo) cleanup() error {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	if d.daemon != nil {
		d.daemon.kill()
	}
	if d.log != nil {
		d.log.close()
	}
	if d.kube != nil {
		d.kube.Close()
		d.kube = nil
	}
	var errs []error
	if d.aws != nil {
		errs = append(errs, d.aws.close())
		d.aws = nil
	}
	if d.dir != "" && !d.opts.keep {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", d.dir, err))
		}
	} else if d.dir != "" {
		d.kept = d.dir
	}
	d.dir = ""
	return errors.Join(errs...)
}
