package main

import "syscall"

// sysProcAttr: Windows has no process groups to put the daemon in; the demo
// stops it by its process.
func sysProcAttr() *syscall.SysProcAttr { return nil }
