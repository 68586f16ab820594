//go:build e2e

package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// BuildDaemon builds the daemon from the repository root into out.
func BuildDaemon(repoRoot, out string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build of the daemon in %s: %w\n%s", repoRoot, err, b)
	}
	return nil
}

// RepoRoot returns the directory of the repository's go.mod, found from the
// current directory (go test runs in the package directory).
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(gomod), nil
}

// DaemonOptions start our provider daemon.
type DaemonOptions struct {
	Bin string
	// SocketDir is --provider-volume: the daemon listens on SocketDir/aws.sock.
	SocketDir  string
	Kubeconfig string
	NodeName   string
	// Region is AWS_REGION, the region of classes that name none.
	Region string
	// EndpointURL is AWS_ENDPOINT_URL: moto, or the fault proxy before it.
	EndpointURL string
	// PodIdentityURL is --pod-identity-endpoint-ipv4 (the fake agent).
	PodIdentityURL string
	Verbosity      int
	ExtraArgs      []string
}

// Daemon is our running provider.
type Daemon struct {
	Opts       DaemonOptions
	Proc       *Process
	SocketPath string
	// HTTPURL serves /metrics, /healthz and /readyz (--http-addr, loopback).
	HTTPURL string

	ws *Workspace
}

// StartDaemon starts the daemon and waits until its socket accepts
// connections.
func StartDaemon(ctx context.Context, ws *Workspace, o DaemonOptions) (*Daemon, error) {
	d := &Daemon{Opts: o, ws: ws, SocketPath: filepath.Join(o.SocketDir, "aws.sock")}
	return d, d.start(ctx)
}

func (d *Daemon) start(ctx context.Context) error {
	o := d.Opts
	port, err := FreePort()
	if err != nil {
		return err
	}
	d.HTTPURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	args := []string{
		// The default is every interface.
		fmt.Sprintf("--http-addr=127.0.0.1:%d", port),
		"--provider-volume=" + o.SocketDir,
		"--kubeconfig=" + o.Kubeconfig,
		"--node-name=" + o.NodeName,
		fmt.Sprintf("-v=%d", o.Verbosity),
	}
	if o.PodIdentityURL != "" {
		args = append(args, "--pod-identity-endpoint-ipv4="+o.PodIdentityURL)
	}
	args = append(args, o.ExtraArgs...)
	env := []string{
		"AWS_REGION=" + o.Region,
		"AWS_ENDPOINT_URL=" + o.EndpointURL,
		// The daemon must never use credentials of its own (each call is
		// signed with the pod's), and nothing may leave loopback: no shared
		// files, no instance metadata.
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_ROLE_ARN=",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=",
	}
	p, err := d.ws.Start(ProcSpec{Name: "csi-provider-aws", Path: o.Bin, Args: args, Env: env})
	if err != nil {
		return err
	}
	d.Proc = p
	if err := waitReady(ctx, p, 30*time.Second, func() error { return dialUnix(d.SocketPath) }); err != nil {
		p.Stop(5 * time.Second)
		return err
	}
	return nil
}

// Stop sends SIGTERM and waits for the daemon to exit (SIGKILL after grace).
func (d *Daemon) Stop() { d.Proc.Stop(10 * time.Second) }

// Restart stops the daemon with SIGTERM and starts it again.
func (d *Daemon) Restart(ctx context.Context) error {
	d.Stop()
	return d.start(ctx)
}
