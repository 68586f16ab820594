package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// startDaemon starts the daemon against the fakes, with its log in the
// scenario's dir, and waits for its socket.
func (e *env) startDaemon(bin, kubeconfig string) (sock string, err error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return "", err
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
		return "", err
	}
	e.daemon.Stdout, e.daemon.Stderr = logf, logf
	if err := e.daemon.Start(); err != nil {
		return "", err
	}
	sock = filepath.Join(providers, "aws.sock")
	if err := waitSocket(sock, logf.Name()); err != nil {
		return "", err
	}
	e.httpAddr = httpAddr
	return sock, nil
}

// waitSocket waits up to 30s for the daemon to create sock.
func waitSocket(sock, logName string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon did not create %s; its log is %s", sock, logName)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopDaemon sends SIGTERM and kills the daemon if it has not exited
// within 10s.
func (e *env) stopDaemon() {
	_ = e.daemon.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- e.daemon.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = e.daemon.Process.Kill()
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
