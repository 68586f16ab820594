//go:build e2e

package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one program started by a Workspace, in its own process group so
// that whatever it forks is stopped with it.
type Process struct {
	Name    string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

// ProcSpec says how to start a Process.
type ProcSpec struct {
	// Name labels the process in logs and errors; it also names its log file.
	Name string
	Path string
	Args []string
	// Env is added to the test's environment (later entries win).
	Env []string
	Dir string
}

// Pid is the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process alone (not its group).
func (p *Process) Signal(sig syscall.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM to the process group, waits up to grace, then sends
// SIGKILL to the group and waits for the process to be reaped.
//
// The group is signalled only while its leader has not been reaped: once
// it has, its process id (and so the group id) may already belong to an
// unrelated process on this machine, which must never receive our signals.
// Children that outlive their leader die by their parent-death signal.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Kill sends SIGKILL to the process alone, as a crash would, leaving its
// sockets and files behind; it waits until the process is reaped.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits for the process to end and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Log returns the whole log of the process.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Workspace owns one temporary root directory and every process started in
// it. Teardown stops them all, unmounts whatever is mounted under the root
// and removes it.
type Workspace struct {
	Dir string

	mu    sync.Mutex
	procs []*Process
	n     map[string]int
}

// workspacePrefix names the roots in os.TempDir(); CleanStale looks for it.
const workspacePrefix = "cpa-e2e-"

// ownerFile in a workspace root holds the pid of the test process owning it.
const ownerFile = ".owner-pid"

// NewWorkspace creates a fresh root directory. Its name is short on purpose:
// unix socket paths must stay under 108 bytes.
func NewWorkspace() (*Workspace, error) {
	dir, err := os.MkdirTemp("", workspacePrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	return &Workspace{Dir: dir, n: map[string]int{}}, nil
}

// Path joins elem under the workspace root.
func (w *Workspace) Path(elem ...string) string {
	return filepath.Join(append([]string{w.Dir}, elem...)...)
}

// Mkdir creates a directory under the root and returns its path.
func (w *Workspace) Mkdir(elem ...string) (string, error) {
	p := w.Path(elem...)
	return p, os.MkdirAll(p, 0o755)
}

// Start starts a process whose stdout and stderr go to logs/<name>.log. The
// process gets SIGKILL if the test process dies first.
func (w *Workspace) Start(spec ProcSpec) (*Process, error) {
	w.mu.Lock()
	w.n[spec.Name]++
	logName := spec.Name
	if c := w.n[spec.Name]; c > 1 {
		logName = fmt.Sprintf("%s.%d", spec.Name, c)
	}
	w.mu.Unlock()
	logPath := w.Path("logs", logName+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{Name: spec.Name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	w.mu.Lock()
	w.procs = append(w.procs, p)
	w.mu.Unlock()
	return p, nil
}

// Pids lists the process ids of every process still running.
func (w *Workspace) Pids() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var pids []int
	for _, p := range w.procs {
		if !p.Exited() {
			pids = append(pids, p.Pid())
		}
	}
	return pids
}

// StopAll stops every process, the most recently started first.
func (w *Workspace) StopAll() {
	w.mu.Lock()
	procs := append([]*Process(nil), w.procs...)
	w.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(5 * time.Second)
	}
}

// Teardown stops every process, unmounts everything under the root and
// removes it. With keepLogs the logs directory is first moved next to the
// root (its new path is returned) so a failure can be read afterwards.
func (w *Workspace) Teardown(keepLogs bool) (string, error) {
	w.StopAll()
	var errs []error
	if err := UnmountUnder(w.Dir); err != nil {
		errs = append(errs, err)
	}
	kept := ""
	if keepLogs {
		kept = w.Dir + "-logs"
		if err := os.Rename(w.Path("logs"), kept); err != nil {
			errs = append(errs, err)
			kept = ""
		}
	}
	if err := os.RemoveAll(w.Dir); err != nil {
		errs = append(errs, err)
	}
	return kept, errors.Join(errs...)
}

// CleanStale removes the roots left by earlier runs whose owner process is
// gone (a run killed before its cleanup), unmounting what they still hold.
func CleanStale() error {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), workspacePrefix+"*"))
	var errs []error
	for _, dir := range matches {
		if strings.HasSuffix(dir, "-logs") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err == nil {
			var pid int
			if _, err := fmt.Sscan(string(bytes.TrimSpace(b)), &pid); err == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
				continue // still in use by a live run
			}
		}
		if err := UnmountUnder(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitFor polls cond every interval until it returns true or timeout passes;
// it returns the last error cond gave, or a timeout error.
func WaitFor(timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("timed out after %v: %w", timeout, last)
			}
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(interval)
	}
}
