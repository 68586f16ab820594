package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
)

// Bounds of the steps that wait.
const (
	socketTimeout   = 20 * time.Second
	mountTimeout    = 30 * time.Second
	rotationTimeout = 30 * time.Second
	republishEvery  = 500 * time.Millisecond
	stopTimeout     = 15 * time.Second
)

// demo is one run: what it started, and what it measured.
type demo struct {
	opts      options
	out       io.Writer
	errOut    io.Writer
	start     time.Time
	buildTook time.Duration

	dir    string
	aws    *awsBackend
	kube   *fakekube.Server
	log    *logSink
	daemon *daemon
	conn   *grpc.ClientConn
	client v1alpha1.CSIDriverProviderClient

	kept         string // the temp dir, when --keep left it
	cacheTTLFlag string // "--cache-ttl=5s" when passed
	attrs        string
	target       string
	latencies    []time.Duration // every Mount, as the driver would time it
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// short replaces the temp dir in paths with $tmp.
func (d *demo) short(s string) string {
	if d.dir == "" {
		return s
	}
	return strings.ReplaceAll(s, d.dir, "$tmp")
}

func (d *demo) run(ctx context.Context) error {
	var err error
	if d.dir, err = os.MkdirTemp("", "csi-aws-demo-"); err != nil {
		return err
	}
	d.printf("csi-provider-aws demo: the real daemon against stand-ins for AWS and Kubernetes; no cluster, no AWS account.\n")
	d.printf("tmp=%s\n\n", d.dir)

	secretV, paramV, err := d.startAWS(ctx)
	if err != nil {
		return stepError("step 1, AWS stand-in", err)
	}
	kubeconfig, err := d.startKube()
	if err != nil {
		return stepError("step 2, Kubernetes stand-in", err)
	}
	if err := d.startDaemon(ctx, kubeconfig); err != nil {
		return stepError("step 3, daemon", err)
	}
	if err := d.firstMount(ctx, secretV, strconv.FormatInt(paramV, 10)); err != nil {
		return stepError("step 4, mount", err)
	}
	if err := d.rotate(ctx, secretV, strconv.FormatInt(paramV, 10)); err != nil {
		return stepError("step 5, rotation", err)
	}
	if err := d.report(ctx); err != nil {
		return stepError("step 6, calls and latency", err)
	}
	if err := d.stop(); err != nil {
		return stepError("step 7, shutdown", err)
	}
	return nil
}

// stop is step 7: SIGTERM, a clean exit, no socket left, no temp dir left.
func (d *demo) stop() error {
	d.conn.Close()
	d.conn = nil
	took, err := d.daemon.stop(stopTimeout)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(d.daemon.socket); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the daemon exited but left %s behind (%v)", d.daemon.socket, err)
	}
	if err := d.cleanup(); err != nil {
		return err
	}
	kept := "temp dir removed"
	if d.kept != "" {
		kept = "kept " + d.kept + " (the pod's files, daemon.log)"
	}
	d.printf("\n7. Stop: SIGTERM -> exit status 0 in %s, socket removed; %s\n", round(took), kept)
	return nil
}

// cleanup releases everything; safe to call more than once.
func (d *demo) cleanup() error {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	if d.daemon != nil {
		d.daemon.kill()
	}
	if d.log != nil {
		d.log.close()
	}
	if d.kube != nil {
		d.kube.Close()
		d.kube = nil
	}
	var errs []error
	if d.aws != nil {
		errs = append(errs, d.aws.close())
		d.aws = nil
	}
	if d.dir != "" && !d.opts.keep {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", d.dir, err))
		}
	} else if d.dir != "" {
		d.kept = d.dir
	}
	d.dir = ""
	return errors.Join(errs...)
}
