// Command bench measures the daemon the way docs/reference-baseline.md measured the
// reference provider: it builds and starts the real daemon binary, drives
// Mount over its unix socket with the attributes the driver sends (real
// token shapes, no current object versions, as driver 1.6 does), against the
// in-process fake AWS and a Kubernetes API stand-in, and prints per phase the
// AWS calls by operation, Kubernetes API calls, Mount latency percentiles,
// daemon CPU seconds and peak RSS.
//
//	go run ./tools/bench                  # every scenario
//	go run ./tools/bench -scenario spread -spread-ttl 1s
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	region    = "us-west-2"
	namespace = "bench"
	nodeName  = "bench-node"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	which := flag.String("scenario", "all", "default, spread, sa10, pods1000, prefix45 or all")
	spreadTTL := flag.Duration("spread-ttl", 2*time.Second, "cache TTL of the spread scenario (rounds last twice this)")
	flag.Parse()

	all := []scenario{
		{name: "default", pods: 50, serviceAccounts: 1, secrets: 10, rounds: 5, cacheTTL: 2 * time.Minute,
			baseline: "reference: 3850 AWS calls (350 STS), 350 K8s calls, cold p50 3.0s p99 8.0s, CPU 3.25s, peak RSS 74.6 MiB"},
		{name: "spread", pods: 50, serviceAccounts: 1, secrets: 10, rounds: 5, cacheTTL: *spreadTTL, spread: true,
			baseline: "reference: 3850 AWS calls whatever the timing"},
		{name: "sa10", pods: 50, serviceAccounts: 10, secrets: 10, rounds: 5, cacheTTL: 2 * time.Minute,
			baseline: "reference: identical to default (3850 AWS calls)"},
		{name: "pods1000", pods: 1000, serviceAccounts: 20, secrets: 10, rounds: 1, cacheTTL: 2 * time.Minute, burst: 110},
		{name: "prefix45", pods: 50, serviceAccounts: 1, secrets: 45, rounds: 5, cacheTTL: 2 * time.Minute, prefix: true,
			baseline: "reference: no prefixes; the 45 secrets named one by one cost 45 GetSecretValue + 1 STS per pod per Mount (16,100 AWS calls for this run)"},
	}
	bin, cleanup, err := buildDaemon()
	if err != nil {
		return err
	}
	defer cleanup()
	for _, s := range all {
		if *which != "all" && *which != s.name {
			continue
		}
		if err := runScenario(bin, s); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	return nil
}

// buildDaemon builds the daemon from the module root into a temp dir.
func buildDaemon() (string, func(), error) {
	dir, err := os.MkdirTemp("", "csi-provider-aws-bench-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "csi-provider-aws")
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", nil, fmt.Errorf("finding the module root: %w", err)
	}
	// Built as the image builds it (stripped, no DWARF).
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", nil, fmt.Errorf("building the daemon: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}
