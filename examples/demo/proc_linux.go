package main

import "syscall"

// sysProcAttr puts the daemon in its own process group and has the kernel
// kill it if the demo dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
