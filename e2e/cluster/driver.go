//go:build e2e

package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"
)

// DriverOptions start one Secrets Store CSI Driver.
type DriverOptions struct {
	// Version picks the binary secrets-store-csi-driver-<Version>.
	Version string
	// NodeID is --nodeid: the driver only sees pods bound to this node.
	NodeID string
	// ProviderDir holds <provider>.sock; it is both --provider-volume and
	// --additional-provider-volume-paths.
	ProviderDir string
	// Kubeconfig is the identity the driver acts as.
	Kubeconfig string
	// RotationPollInterval enables rotation with this interval when > 0.
	RotationPollInterval time.Duration
	// Name labels the process and its socket directory.
	Name string
}

// Driver is a running Secrets Store CSI Driver.
type Driver struct {
	Opts        DriverOptions
	Proc        *Process
	SocketPath  string
	Endpoint    string // unix://...
	MetricsAddr string
}

// StartDriver starts the driver binary and waits for its CSI socket to
// accept connections.
func StartDriver(ctx context.Context, ws *Workspace, o DriverOptions) (*Driver, error) {
	bin, err := Binary("secrets-store-csi-driver-" + o.Version)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "driver-" + o.Version
	}
	dir, err := ws.Mkdir("run", o.Name)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	d := &Driver{
		Opts:        o,
		SocketPath:  dir + "/csi.sock",
		MetricsAddr: fmt.Sprintf("127.0.0.1:%d", port),
	}
	d.Endpoint = "unix://" + d.SocketPath
	args := []string{
		"--endpoint=" + d.Endpoint,
		"--nodeid=" + o.NodeID,
		"--provider-volume=" + o.ProviderDir,
		"--additional-provider-volume-paths=" + o.ProviderDir,
		"--kubeconfig=" + o.Kubeconfig,
		// The default is every interface.
		"--metrics-addr=" + d.MetricsAddr,
		"-v=5",
	}
	if o.RotationPollInterval > 0 {
		args = append(args, "--enable-secret-rotation", "--rotation-poll-interval="+o.RotationPollInterval.String())
	}
	p, err := ws.Start(ProcSpec{Name: o.Name, Path: bin, Args: args, Env: []string{"KUBECONFIG=" + o.Kubeconfig}})
	if err != nil {
		return nil, err
	}
	d.Proc = p
	if err := waitReady(ctx, p, 60*time.Second, func() error { return dialUnix(d.SocketPath) }); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return d, nil
}

// Stop stops the driver.
func (d *Driver) Stop() { d.Proc.Stop(10 * time.Second) }

func dialUnix(path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
