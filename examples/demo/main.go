// Command demo runs the provider daemon on this machine with no cluster and
// no AWS account: an AWS stand-in (the in-process fake of Secrets Manager,
// SSM and STS, or moto with --aws=moto), a Kubernetes API stand-in
// (emulators/fakekube) and the real daemon binary as a subprocess. It mounts a
// SecretProviderClass through the Secrets Store CSI Driver's own provider
// client, writes the answer with the driver's own file writer, rotates the
// secret, mounts again, and prints what a pod would see at each step.
//
//	make demo                      # or: go run ./examples/demo
//	go run ./examples/demo --aws=moto --keep --verbose
//
// It owns a temporary directory and the processes it starts, and removes
// both on exit. It never talks to a real cluster or to AWS: the daemon gets
// AWS_ENDPOINT_URL pointing at the stand-in and an environment stripped of
// every AWS_* variable the user may have set.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
)

// The demo's world: who mounts, as what, where.
const (
	namespace      = "demo"
	serviceAccount = "app"
	podName        = "web-0"
	nodeName       = "demo-node"
	region         = "us-west-2"
	roleARN        = "arn:aws:iam::123456789012:role/demo-app" // moto's and the fake's default account
	secretName     = "demo/db-credentials"
	parameterName  = "/demo/api-key"
	// watchedFile is the file the rotation step waits for.
	watchedFile = "db-password"
)

// classYAML is the SecretProviderClass the demo mounts; the examples test
// parses it like every other example.
//
//go:embed secretproviderclass.yaml
var classYAML []byte

// options are the demo's flags.
type options struct {
	aws      string
	keep     bool
	verbose  bool
	cacheTTL time.Duration
	// prepareFake, when set, changes the fake AWS after seeding (tests use
	// it to make a step fail).
	prepareFake func(*fakeaws.Server)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.aws, "aws", "fake", "AWS stand-in: fake (in-process) or moto (needs moto_server on PATH or MOTO_SERVER)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (the pod's files, the daemon's log) and print its path")
	fs.BoolVar(&o.verbose, "verbose", false, "stream the daemon's log to stderr")
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 5*time.Second,
		"the daemon's --cache-ttl, when it has one: its 2m default would hold the rotated value back longer than the demo waits")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.aws != "fake" && o.aws != "moto" {
		return fmt.Errorf("--aws must be fake or moto, got %q", o.aws)
	}
	if o.cacheTTL < 0 || o.cacheTTL > 20*time.Second {
		return fmt.Errorf("--cache-ttl must be from 0s to 20s so the rotation lands within the demo's 30s wait, got %v", o.cacheTTL)
	}
	return runWith(ctx, o, stdout, stderr)
}

// runWith runs the demo with parsed options and cleans up whatever happens.
func runWith(ctx context.Context, o options, stdout, stderr io.Writer) error {
	d := &demo{opts: o, out: stdout, errOut: stderr, start: time.Now()}
	err := d.run(ctx)
	if cerr := d.cleanup(); err == nil {
		err = cerr
	}
	if err != nil && d.daemon != nil {
		d.daemon.printTail(stderr, 25)
	}
	if err != nil && d.kept != "" {
		fmt.Fprintf(stderr, "kept %s\n", d.kept)
	}
	if err == nil {
		fmt.Fprintf(stdout, "\ndemo passed in %s (daemon build %s)\n", round(time.Since(d.start)), round(d.buildTook))
	}
	return err
}

// stepError names the step that failed.
func stepError(step string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: interrupted", step)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// round keeps durations short in the output.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
