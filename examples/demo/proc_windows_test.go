package main

import "os"

// processGone reports whether no process has this pid any more: on Windows
// FindProcess opens the process, and fails once it is gone.
func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	p.Release()
	return false
}
