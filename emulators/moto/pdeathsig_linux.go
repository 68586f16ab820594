package moto

import "syscall"

// setParentDeathSignal kills moto_server if the test binary dies without
// running its cleanups (a panic in another goroutine, go test -timeout).
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
