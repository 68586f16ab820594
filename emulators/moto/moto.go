// Package moto runs moto_server, an independent AWS emulator, for tests.
// The integration suite runs against it and against emulators/fakeaws so that
// the fake cannot drift from AWS behaviour unnoticed.
//
// It owns one child process per Server and must never leave it behind: the
// process runs in its own process group, which Close (or the test cleanup
// Start registers) terminates as a whole.
//
// Where moto_server is missing, tests skip in a developer's loop and fail
// loudly when CI=true. MOTO_URL points the package at a moto that is
// already running (a CI service container, say) instead of starting one;
// it is reset on start, so packages must not share it in parallel.
// MOTO_SERVER names the binary when it is not on PATH.
package moto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrNotInstalled reports that no moto_server binary could be found.
var ErrNotInstalled = errors.New("moto_server not found on PATH")

// InstallHint says how to get moto_server.
const InstallHint = `install it with: pip install 'moto[server]==5.2.1' ` +
	`(or set MOTO_SERVER to the binary, or MOTO_URL to a running moto)`

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3
	outputLimit  = 64 << 10
)

// Server is a running moto_server (or, with MOTO_URL, one run by someone
// else).
type Server struct {
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
	output *tailBuffer
	once   sync.Once
}

// Start starts moto_server for a test and stops it when the test ends.
// Without moto_server it skips the test, unless CI=true, where it fails.
// Tests that share one server call Reset between cases.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartProcess()
	switch {
	case errors.Is(err, ErrNotInstalled) && inCI():
		t.Fatalf("moto_server not found; CI requires it (the moto suite must not silently skip there): %s", InstallHint)
	case errors.Is(err, ErrNotInstalled):
		t.Skipf("moto_server not found; skipping the moto suite (%s)", InstallHint)
	case err != nil:
		t.Fatalf("start moto_server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop moto_server: %v", err)
		}
	})
	return s
}

// StartProcess starts moto_server on a free port of 127.0.0.1 and waits
// until it answers. The caller must Close it. It returns an error wrapping
// ErrNotInstalled when there is no moto_server.
func StartProcess() (*Server, error) {
	if u := os.Getenv("MOTO_URL"); u != "" {
		s := &Server{url: strings.TrimRight(u, "/")}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := s.waitReady(ctx); err != nil {
			return nil, fmt.Errorf("MOTO_URL %s: %w", u, err)
		}
		// Start empty, like a fresh process.
		if err := s.Reset(); err != nil {
			return nil, fmt.Errorf("MOTO_URL %s: %w", u, err)
		}
		return s, nil
	}
	bin := os.Getenv("MOTO_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("moto_server"); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
		}
	} else if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: MOTO_SERVER=%s: %v", ErrNotInstalled, bin, err)
	}

	var lastErr error
	for try := 0; try < startTries; try++ {
		s, err := launch(bin)
		if err == nil {
			return s, nil
		}
		// Another process may have taken the port between our probe and
		// moto's bind; try a new one.
		lastErr = err
	}
	return nil, lastErr
}

func launch(bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	out := &tailBuffer{limit: outputLimit}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = out, out
	// moto needs no credentials; make sure it cannot pick up real ones.
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_SESSION_TOKEN=")
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{
		url:    "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:    cmd,
		exited: make(chan struct{}),
		output: out,
	}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("moto_server on port %d: %w; output:\n%s", port, err, out.String())
	}
	return s, nil
}

// waitReady polls the moto API until it answers.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return errors.New("exited before it answered")
		case <-ctx.Done():
			return fmt.Errorf("not answering after %v", startTimeout)
		case <-tick.C:
		}
	}
}

// URL is the endpoint for every service, e.g. http://127.0.0.1:5000.
func (s *Server) URL() string { return s.url }

// Reset drops every resource in every region and account, so tests can
// share one server.
func (s *Server) Reset() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Close stops the process group (SIGTERM, then SIGKILL after 5s) and waits
// for it. It does nothing for a MOTO_URL server. Safe to call twice.
func (s *Server) Close() error {
	if s.cmd == nil {
		return nil
	}
	var err error
	s.once.Do(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		signalGroup(s.cmd, false)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			signalGroup(s.cmd, true)
			select {
			case <-s.exited:
			case <-time.After(stopTimeout):
				err = fmt.Errorf("moto_server (pid %d) did not exit", s.cmd.Process.Pid)
			}
		}
	})
	return err
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last limit bytes written to it, for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.limit; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
