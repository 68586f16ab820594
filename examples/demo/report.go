package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// report is step 6: what it cost.
func (d *demo) report(ctx context.Context) error {
	metrics, err := d.daemon.metrics(ctx)
	if err != nil {
		return fmt.Errorf("reading the daemon's /metrics: %w", err)
	}
	calls, source := d.aws.daemonCalls(), "counted by the fake"
	if calls == nil {
		calls, source = map[string]int{}, "from the daemon's csi_provider_aws_api_calls_total; moto keeps no count"
		for _, s := range samples(metrics, "csi_provider_aws_api_calls_total") {
			calls[s.labels["service"]+":"+s.labels["operation"]] += int(s.value)
		}
	}
	mounts := len(d.latencies)
	d.printf("\n6. Cost of %d Mounts (1 first mount, %d republishes)\n", mounts, mounts-1)
	d.printf("     AWS calls (%s): %s\n", source, formatCounts(calls))
	d.printf("     Kubernetes API calls (counted by fakekube): %s\n", formatCounts(d.kube.Calls()))
	rest := slices.Clone(d.latencies[1:])
	slices.Sort(rest)
	line := fmt.Sprintf("     Mount latency at the driver: first %s (STS and AWS reads)", round(d.latencies[0]))
	if len(rest) > 0 {
		line += fmt.Sprintf(", republishes p50 %s, max %s", round(rest[len(rest)/2]), round(rest[len(rest)-1]))
	}
	d.printf("%s\n", line)
	var sum, count float64
	for _, s := range samples(metrics, "csi_provider_aws_mount_duration_seconds_sum") {
		sum += s.value
	}
	for _, s := range samples(metrics, "csi_provider_aws_mount_duration_seconds_count") {
		count += s.value
	}
	switch {
	case count == 0:
		d.printf("     the daemon's /metrics has no csi_provider_aws_mount_duration_seconds\n")
	case int(count) != mounts:
		return fmt.Errorf("the daemon's histogram counts %.0f Mounts, the demo sent %d", count, mounts)
	default:
		d.printf("     Mount latency in the daemon (csi_provider_aws_mount_duration_seconds): mean %s over %.0f\n",
			round(time.Duration(sum/count*float64(time.Second))), count)
	}
	return nil
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
