package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// modulePath is the module the demo builds the daemon from.
const modulePath = "github.com/csi-provider-aws/csi-provider-aws"

// moduleRoot finds the directory of our go.mod from the working directory,
// as `go env GOMOD` sees it.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (is the Go toolchain on PATH?)", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module: run the demo from a checkout of %s (make demo)", modulePath)
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	module := ""
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			module = strings.Trim(f[1], `"`)
			break
		}
	}
	if module != modulePath {
		return "", fmt.Errorf("%s is module %q, not %s: run the demo from a checkout of %s", gomod, module, modulePath, modulePath)
	}
	return filepath.Dir(gomod), nil
}

// buildDaemon runs `go build -o <dir>/csi-provider-aws <root>`.
func buildDaemon(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "csi-provider-aws")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", root, err, lastLines(string(out), 30))
	}
	return bin, nil
}

// hasFlag reports whether the daemon's --help lists a flag.
func hasFlag(ctx context.Context, bin, name string) bool {
	// --help exits non-zero (flag.ErrHelp); only the text matters.
	out, _ := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	return regexp.MustCompile(`(?m)^\s+-{1,2}` + regexp.QuoteMeta(name) + `\b`).Match(out)
}

// daemonEnv is the user's environment without anything that could point
// the daemon at real AWS or a real cluster, plus the demo's endpoints.
func daemonEnv(awsURL, dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "NODE_NAME" || k == "KUBECONFIG" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"AWS_ENDPOINT_URL="+awsURL,
		"AWS_EC2_METADATA_DISABLED=true",
		// No shared config or credentials files: nothing of ~/.aws applies.
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"),
	)
}

// daemon is the running daemon process.
type daemon struct {
	cmd     *exec.Cmd
	log     *logSink
	socket  string
	exited  chan struct{}
	waitErr error // set before exited is closed
}

func startDaemon(bin string, args, env []string, log *logSink, socket string) (*daemon, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: Ctrl-C reaches the demo, which stops the
	// daemon itself and checks how it went.
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	d := &daemon{cmd: cmd, log: log, socket: socket, exited: make(chan struct{})}
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// waitSocket waits for the daemon's socket, failing early if it exits.
func (d *daemon) waitSocket(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if fi, err := os.Stat(d.socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("the daemon exited (%v) before creating %s", d.waitErr, d.socket)
		case <-deadline.C:
			return fmt.Errorf("no socket at %s after %v", d.socket, timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for the exit; the exit must be clean.
func (d *daemon) stop(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	select {
	case <-d.exited:
		return 0, fmt.Errorf("the daemon had already exited: %v", d.waitErr)
	default:
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-d.exited:
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return time.Since(start), fmt.Errorf("the daemon did not exit within %v of SIGTERM; killed it", timeout)
	}
	if d.waitErr != nil {
		return time.Since(start), fmt.Errorf("the daemon exited with %v after SIGTERM, want status 0", d.waitErr)
	}
	return time.Since(start), nil
}

// kill ends the daemon if it still runs (cleanup after a failure).
func (d *daemon) kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// printTail shows the end of the daemon's log after a failure.
func (d *daemon) printTail(w io.Writer, n int) {
	lines := d.log.tail(n)
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nlast %d lines of the daemon's log:\n", len(lines))
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
}

// metrics fetches the daemon's Prometheus text.
func (d *daemon) metrics(ctx context.Context) (string, error) {
	addr := d.log.metricsAddr()
	if addr == "" {
		return "", errors.New("the daemon never logged its metrics address")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s %v", resp.Status, err)
	}
	return string(b), nil
}

// metricsAddrRE finds the address the daemon bound for --http-addr
// 127.0.0.1:0 in its klog line.
var metricsAddrRE = regexp.MustCompile(`"serving health and metrics" addr="([^"]+)"`)

// logSink keeps the daemon's log: all of it in a file, the last lines in
// memory for error reports, optionally streamed.
type logSink struct {
	mu      sync.Mutex
	file    *os.File
	stream  io.Writer // nil unless --verbose
	partial []byte
	lines   []string
	addr    string
}

const keepLines = 200

func newLogSink(path string, stream io.Writer) (*logSink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &logSink{file: f, stream: stream}, nil
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.file.Write(p)
	if l.stream != nil {
		_, _ = l.stream.Write(p)
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if m := metricsAddrRE.FindStringSubmatch(line); m != nil && l.addr == "" {
			l.addr = m[1]
		}
		l.lines = append(l.lines, line)
		if len(l.lines) > keepLines {
			l.lines = l.lines[len(l.lines)-keepLines:]
		}
	}
	return len(p), nil
}

func (l *logSink) tail(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines[max(0, len(l.lines)-n):]...)
}

func (l *logSink) metricsAddr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

func (l *logSink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.file.Close()
}

// sample is one Prometheus sample: labels and value.
type sample struct {
	labels map[string]string
	value  float64
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// samples returns the samples of one metric name from Prometheus text.
func samples(text, name string) []sample {
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		s := sample{labels: map[string]string{}}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			for _, m := range labelRE.FindAllStringSubmatch(rest[1:end], -1) {
				s.labels[m[1]] = m[2]
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
