//go:build e2e

package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// mountNSEnv marks a test binary already running in its private mount
// namespace.
const mountNSEnv = "CPA_E2E_PRIVATE_MOUNTNS"

// ReexecInPrivateMountNamespace runs the current test binary again in a new,
// private mount namespace and returns its exit code with handled = true. Every
// tmpfs the driver mounts then lives in that namespace and vanishes with its
// last process, whatever happens to the test. It returns handled = false when
// the caller already runs inside such a namespace, or when the namespace
// cannot be made (not root): the caller then runs the tests itself and relies
// on unmounting in cleanup.
func ReexecInPrivateMountNamespace() (code int, handled bool) {
	if os.Getenv(mountNSEnv) != "" || os.Geteuid() != 0 {
		return 0, false
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, false
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), mountNSEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Go makes the new namespace's mounts private (MS_REC|MS_PRIVATE on /),
	// so nothing mounted inside propagates back to the host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: no private mount namespace (%v); mounts are cleaned up by the tests\n", err)
		return 0, false
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ee.ExitCode(), true
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1, true
	}
	return 0, true
}

// InPrivateMountNamespace reports whether this process is the re-executed
// test binary.
func InPrivateMountNamespace() bool { return os.Getenv(mountNSEnv) != "" }
