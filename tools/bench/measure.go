package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

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
