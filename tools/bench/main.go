// Command bench measures the daemon the way docs/reference-baseline.md measured the
// reference provider: it builds and starts the real daemon binary, drives
// Mount over its unix socket with the attributes the driver sends (real
// token shapes, no current object versions, as driver 1.6 does), against the
// in-process fake AWS and a Kubernetes API stand-in, and prints per phase the
// AWS calls by operation, Kubernetes API calls, Mount latency percentiles,
// daemon CPU seconds and peak RSS.
//
//	go run ./tools/bench                  # every scenario
//	go run ./tools/bench -scenario default -spread
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

const (
	region    = "us-west-2"
	namespace = "bench"
	nodeName  = "bench-node"
)

// scenario is one benchmark run.
type scenario struct {
	name            string
	pods            int
	serviceAccounts int
	secrets         int
	rounds          int
	cacheTTL        time.Duration
	// spread spreads each republish round over twice the TTL, as kubelet's
	// once-a-minute republish does against a 2m TTL scaled down in time.
	spread bool
	// baseline is the reference provider's whole-run figures (docs/reference-baseline.md).
	baseline string
	// burst is how many pods mount at once in the cold phase (0 = all):
	// kubelet mounts the volumes of pods that start together in parallel,
	// and a node starts at most a few hundred pods.
	burst int
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	which := flag.String("scenario", "all", "default, spread, sa10, pods1000 or all")
	spreadTTL := flag.Duration("spread-ttl", 2*time.Second, "cache TTL of the spread scenario (rounds last twice this)")
	flag.Parse()

	all := []scenario{
		{name: "default", pods: 50, serviceAccounts: 1, secrets: 10, rounds: 5, cacheTTL: 2 * time.Minute,
			baseline: "reference: 3850 AWS calls (350 STS), 350 K8s calls, cold p50 3.0s p99 8.0s, CPU 3.25s, peak RSS 74.6 MiB"},
		{name: "spread", pods: 50, serviceAccounts: 1, secrets: 10, rounds: 5, cacheTTL: *spreadTTL, spread: true,
			baseline: "reference: 3850 AWS calls whatever the timing"},
		{name: "sa10", pods: 50, serviceAccounts: 10, secrets: 10, rounds: 5, cacheTTL: 2 * time.Minute,
			baseline: "reference: identical to default (3850 AWS calls)"},
		{name: "pods1000", pods: 1000, serviceAccounts: 20, secrets: 10, rounds: 1, cacheTTL: 2 * time.Minute, burst: 110},
	}
	bin, cleanup, err := buildDaemon()
	if err != nil {
		return err
	}
	defer cleanup()
	for _, s := range all {
		if *which != "all" && *which != s.name {
			continue
		}
		if err := runScenario(bin, s); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	return nil
}

// buildDaemon builds the daemon from the module root into a temp dir.
func buildDaemon() (string, func(), error) {
	dir, err := os.MkdirTemp("", "csi-provider-aws-bench-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "csi-provider-aws")
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", nil, fmt.Errorf("finding the module root: %w", err)
	}
	// Built as the image builds it (stripped, no DWARF).
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", nil, fmt.Errorf("building the daemon: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// env is one scenario's world: fake AWS, fake Kubernetes, the daemon.
type env struct {
	s        scenario
	aws      *fakeaws.Server
	kube     *fakekube.Server
	daemon   *exec.Cmd
	client   v1alpha1.CSIDriverProviderClient
	conn     *grpc.ClientConn
	dir      string
	params   string
	httpAddr string
	// startup is the Kubernetes calls made before the first Mount.
	startup map[string]int
}

func runScenario(bin string, s scenario) error {
	e := &env{s: s}
	defer e.close()
	if err := e.start(bin); err != nil {
		return err
	}
	burst := "all at once"
	if s.burst > 0 {
		burst = fmt.Sprintf("%d at a time (a node's max pods)", s.burst)
	}
	fmt.Printf("\n## scenario %s: %d pods, %d ServiceAccounts, %d secrets, %d republish rounds, cache TTL %v, cold mounts %s%s\n\n",
		s.name, s.pods, s.serviceAccounts, s.secrets, s.rounds, s.cacheTTL, burst, map[bool]string{true: ", rounds spread over 2xTTL"}[s.spread])
	fmt.Printf("daemon start-up Kubernetes reads (informers, once): %s; RSS after start-up %.1f MiB (peak %.1f MiB)\n\n", formatKube(e.startup), e.rss(), e.peakRSS())
	fmt.Println("| phase | Mounts | AWS calls | by operation | K8s API calls | p50 | p90 | p99 | daemon CPU | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")

	var total phaseResult
	cold, err := e.phase("cold", func() ([]time.Duration, error) { return e.round(true, 0) })
	if err != nil {
		return err
	}
	total.add(cold)
	rep, err := e.phase(fmt.Sprintf("republish x%d", s.rounds), func() ([]time.Duration, error) {
		var all []time.Duration
		for range s.rounds {
			var spreadOver time.Duration
			if s.spread {
				spreadOver = 2 * s.cacheTTL
			}
			lat, err := e.round(false, spreadOver)
			if err != nil {
				return nil, err
			}
			all = append(all, lat...)
		}
		return all, nil
	})
	if err != nil {
		return err
	}
	total.add(rep)
	if s.name != "pods1000" {
		e.aws.PutSecretString(region, "secret-00", strings.Repeat("r", 64))
		rotatedAt := time.Now()
		rot, err := e.phase("rotate", func() ([]time.Duration, error) { return e.round(false, 0) })
		if err != nil {
			return err
		}
		total.add(rot)
		fmt.Printf("| **whole run** | %d | **%d** | %s | %d | | | | %.2fs | %.1f MiB |\n",
			total.mounts, total.aws, formatOps(total.ops), total.kube, total.cpu.Seconds(), e.peakRSS())
		if s.spread {
			// Only here is the TTL short enough to wait for: the bound is
			// the same with the default TTL, scaled.
			seen, took, err := e.waitRotation(rotatedAt)
			if err != nil {
				return err
			}
			fmt.Printf("\nrotation: %d of %d pods saw the new value in the rotate round; all had it %v after the change (bound: TTL %v + one republish)\n",
				seen, s.pods, took.Round(time.Millisecond), s.cacheTTL)
		}
	} else {
		fmt.Printf("| **whole run** | %d | **%d** | %s | %d | | | | %.2fs | %.1f MiB |\n",
			total.mounts, total.aws, formatOps(total.ops), total.kube, total.cpu.Seconds(), e.peakRSS())
		entries := e.metric("csi_provider_aws_value_cache_entries")
		fmt.Printf("\nmemory: peak RSS %.1f MiB with %d pods mounted (%s cached values)\n", e.peakRSS(), s.pods, entries)
	}
	// Latency alone: kubelet's republishes of a node's pods are spread over
	// its minute, so a warm Mount rarely queues behind others. One at a
	// time, outside the whole-run totals.
	var solo []time.Duration
	for p := range e.s.pods {
		_, took, err := e.timedMount(p)
		if err != nil {
			return err
		}
		solo = append(solo, took)
	}
	sort.Slice(solo, func(i, j int) bool { return solo[i] < solo[j] })
	fmt.Printf("warm Mount latency, one at a time (%d Mounts): p50 %s, p90 %s, p99 %s\n", len(solo), pct(solo, 50), pct(solo, 90), pct(solo, 99))
	fmt.Printf("RSS at the end: %.1f MiB\n", e.rss())
	if s.baseline != "" {
		fmt.Println(s.baseline)
	}
	return nil
}

// start seeds the fakes and starts the daemon.
func (e *env) start(bin string) error {
	var err error
	if e.dir, err = os.MkdirTemp("", "bench-"); err != nil {
		return err
	}
	e.aws = fakeaws.New()
	if err := e.aws.Start(); err != nil {
		return err
	}
	var objects strings.Builder
	for i := range e.s.secrets {
		name := fmt.Sprintf("secret-%02d", i)
		e.aws.PutSecretString(region, name, strings.Repeat(string(rune('a'+i%26)), 64))
		fmt.Fprintf(&objects, "- {objectName: %s, objectType: secretsmanager}\n", name)
	}
	params, _ := json.Marshal(map[string]string{"objects": objects.String(), "region": region})
	e.params = string(params)

	e.kube = fakekube.New()
	if err := e.kube.Start(); err != nil {
		return err
	}
	e.kube.AddNode(nodeName, map[string]string{"topology.kubernetes.io/region": region})
	for i := range e.s.serviceAccounts {
		e.kube.AddServiceAccount(namespace, sa(i), map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/bench"})
	}
	for p := range e.s.pods {
		e.kube.AddPod(namespace, podName(p), nodeName, sa(p%e.s.serviceAccounts))
	}
	kubeconfig, err := e.kube.Kubeconfig(e.dir)
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	providers := filepath.Join(e.dir, "providers")
	args := []string{"--provider-volume", providers, "--kubeconfig", kubeconfig, "--node-name", nodeName,
		"--http-addr", httpAddr, "--cache-ttl", e.s.cacheTTL.String()}
	if pp := os.Getenv("BENCH_PPROF_ADDR"); pp != "" {
		args = append(args, "--pprof-addr", pp)
	}
	e.daemon = exec.Command(bin, args...)
	e.daemon.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+e.aws.URL(), "AWS_EC2_METADATA_DISABLED=true")
	logf, err := os.Create(filepath.Join(e.dir, "daemon.log"))
	if err != nil {
		return err
	}
	e.daemon.Stdout, e.daemon.Stderr = logf, logf
	if err := e.daemon.Start(); err != nil {
		return err
	}
	sock := filepath.Join(providers, "aws.sock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon did not create %s; its log is %s", sock, logf.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.httpAddr = httpAddr
	e.conn, err = grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	e.client = v1alpha1.NewCSIDriverProviderClient(e.conn)
	// Start-up reads (informer lists and watches) are not per-Mount costs.
	time.Sleep(200 * time.Millisecond)
	if os.Getenv("BENCH_PAUSE") != "" {
		fmt.Fprintf(os.Stderr, "daemon pid %d ready; pausing %s\n", e.daemon.Process.Pid, os.Getenv("BENCH_PAUSE"))
		d, _ := time.ParseDuration(os.Getenv("BENCH_PAUSE"))
		time.Sleep(d)
	}
	e.startup = e.kube.Calls()
	e.aws.ResetCalls()
	e.kube.ResetCalls()
	return nil
}

func (e *env) close() {
	if e.conn != nil {
		e.conn.Close()
	}
	if e.daemon != nil && e.daemon.Process != nil {
		_ = e.daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- e.daemon.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = e.daemon.Process.Kill()
		}
	}
	if e.kube != nil {
		e.kube.Close()
	}
	if e.aws != nil {
		e.aws.Close()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// phaseResult is what one phase cost.
type phaseResult struct {
	mounts, aws, kube int
	ops               map[string]int
	cpu               time.Duration
}

func (p *phaseResult) add(q phaseResult) {
	p.mounts += q.mounts
	p.aws += q.aws
	p.kube += q.kube
	p.cpu += q.cpu
	if p.ops == nil {
		p.ops = map[string]int{}
	}
	for k, v := range q.ops {
		p.ops[k] += v
	}
}

// phase runs fn and prints its row.
func (e *env) phase(name string, fn func() ([]time.Duration, error)) (phaseResult, error) {
	e.aws.ResetCalls()
	e.kube.ResetCalls()
	cpu0 := e.cpu()
	lat, err := fn()
	if err != nil {
		return phaseResult{}, err
	}
	r := phaseResult{mounts: len(lat), ops: e.aws.Calls(), cpu: e.cpu() - cpu0}
	for _, v := range r.ops {
		r.aws += v
	}
	for k, v := range e.kube.Calls() {
		if !strings.HasPrefix(k, "watch") { // an open watch is not a call per Mount
			r.kube += v
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("| %s | %d | %d | %s | %d | %s | %s | %s | %.2fs | %.1f MiB |\n", name, r.mounts, r.aws, formatOps(r.ops), r.kube,
		pct(lat, 50), pct(lat, 90), pct(lat, 99), r.cpu.Seconds(), e.peakRSS())
	return r, nil
}

// round mounts every pod once: all at once when burst, else with a few
// workers, spreading the starts evenly over spreadOver when it is set.
func (e *env) round(burst bool, spreadOver time.Duration) ([]time.Duration, error) {
	workers := 8
	if burst {
		workers = e.s.pods
		if e.s.burst > 0 {
			workers = e.s.burst
		}
	}
	lat := make([]time.Duration, e.s.pods)
	errs := make([]error, e.s.pods)
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				if spreadOver > 0 {
					time.Sleep(time.Until(start.Add(spreadOver * time.Duration(p) / time.Duration(e.s.pods))))
				}
				_, lat[p], errs[p] = e.timedMount(p)
			}
		}()
	}
	for p := range e.s.pods {
		next <- p
	}
	close(next)
	wg.Wait()
	return lat, errors.Join(errs...)
}

// mount sends pod p's Mount as the driver does.
func (e *env) mount(p int) (*v1alpha1.MountResponse, error) {
	resp, _, err := e.timedMount(p)
	return resp, err
}

// timedMount sends pod p's Mount and times the call alone: the request is
// built first, as the driver builds it, so the latency is the daemon's and
// the socket's, not the benchmark's own JSON and token building.
func (e *env) timedMount(p int) (*v1alpha1.MountResponse, time.Duration, error) {
	attrs := map[string]string{}
	_ = json.Unmarshal([]byte(e.params), &attrs)
	exp := time.Now().Add(time.Hour)
	tok := func(aud string) map[string]string {
		return map[string]string{"token": jwt(sa(p%e.s.serviceAccounts), aud, exp), "expirationTimestamp": exp.UTC().Format(time.RFC3339)}
	}
	tokens, _ := json.Marshal(map[string]map[string]string{"sts.amazonaws.com": tok("sts.amazonaws.com")})
	attrs["secretProviderClass"] = "bench"
	attrs["csi.storage.k8s.io/pod.name"] = podName(p)
	attrs["csi.storage.k8s.io/pod.namespace"] = namespace
	attrs["csi.storage.k8s.io/pod.uid"] = "uid-" + podName(p)
	attrs["csi.storage.k8s.io/serviceAccount.name"] = sa(p % e.s.serviceAccounts)
	attrs["csi.storage.k8s.io/ephemeral"] = "true"
	attrs["csi.storage.k8s.io/serviceAccount.tokens"] = string(tokens)
	b, _ := json.Marshal(attrs)
	req := &v1alpha1.MountRequest{Attributes: string(b), Secrets: "{}", Permission: "420",
		TargetPath: filepath.Join(e.dir, "pods", podName(p))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	resp, err := e.client.Mount(ctx, req)
	took := time.Since(t0)
	if err != nil {
		return nil, took, fmt.Errorf("mount of %s: %w", podName(p), err)
	}
	if len(resp.GetFiles()) != e.s.secrets {
		return nil, took, fmt.Errorf("mount of %s returned %d files, want %d", podName(p), len(resp.GetFiles()), e.s.secrets)
	}
	return resp, took, nil
}

// waitRotation counts the pods that see the rotated value now and
// republishes (like kubelet) until all do.
func (e *env) waitRotation(rotatedAt time.Time) (seenNow int, took time.Duration, err error) {
	want := strings.Repeat("r", 64)
	first := true
	for {
		n := 0
		for p := range e.s.pods {
			resp, err := e.mount(p)
			if err != nil {
				return 0, 0, err
			}
			for _, f := range resp.GetFiles() {
				if f.Path == "secret-00" && string(f.Contents) == want {
					n++
				}
			}
		}
		if first {
			seenNow, first = n, false
		}
		if n == e.s.pods {
			return seenNow, time.Since(rotatedAt), nil
		}
		if time.Since(rotatedAt) > e.s.cacheTTL+30*time.Second {
			return seenNow, time.Since(rotatedAt), fmt.Errorf("only %d of %d pods saw the rotated value after %v", n, e.s.pods, time.Since(rotatedAt))
		}
		time.Sleep(min(e.s.cacheTTL/4+time.Millisecond, 5*time.Second))
	}
}

// cpu is the daemon's user+system CPU time so far.
func (e *env) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", e.daemon.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// peakRSS is the daemon's high-water resident set in MiB.
func (e *env) peakRSS() float64 { return e.status("VmHWM:") }

// rss is the daemon's resident set now, in MiB.
func (e *env) rss() float64 { return e.status("VmRSS:") }

func (e *env) status(field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.daemon.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// metric reads one gauge from the daemon's /metrics ("?" when absent).
func (e *env) metric(name string) string {
	out, err := exec.Command("curl", "-sf", "http://"+e.httpAddr+"/metrics").Output()
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return "?"
}

func formatKube(calls map[string]int) string {
	var parts []string
	for k, v := range calls {
		if strings.Contains(k, "serviceaccounts") || strings.Contains(k, "nodes") || strings.Contains(k, "pods") {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func formatOps(ops map[string]int) string {
	var parts []string
	for k, v := range ops {
		parts = append(parts, fmt.Sprintf("%s %d", k[strings.IndexByte(k, ':')+1:], v))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := (len(sorted)*p + 99) / 100
	d := sorted[max(min(i, len(sorted))-1, 0)]
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

func sa(i int) string      { return fmt.Sprintf("sa-%d", i) }
func podName(p int) string { return fmt.Sprintf("pod-%04d", p) }
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// jwt is an unsigned token with the claims kubelet's TokenRequest sets.
func jwt(serviceAccount, audience string, exp time.Time) string {
	return testkit.Token{Namespace: namespace, ServiceAccount: serviceAccount, Audience: audience, Expires: exp}.String()
}
