package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// printHeader prints the scenario's title, what the daemon's start-up
// cost, and the head of the phase table.
func (e *env) printHeader() {
	s := e.s
	burst := "all at once"
	if s.burst > 0 {
		burst = fmt.Sprintf("%d at a time (a node's max pods)", s.burst)
	}
	fmt.Printf("\n## scenario %s: %d pods, %d ServiceAccounts, %d secrets, %d republish rounds, cache TTL %v, cold mounts %s%s\n\n",
		s.name, s.pods, s.serviceAccounts, s.secrets, s.rounds, s.cacheTTL, burst, map[bool]string{true: ", rounds spread over 2xTTL"}[s.spread])
	fmt.Printf("daemon start-up Kubernetes reads (informers, once): %s; RSS after start-up %.1f MiB (peak %.1f MiB)\n\n", formatKube(e.startup), e.rss(), e.peakRSS())
	fmt.Println("| phase | Mounts | AWS calls | by operation | K8s API calls | p50 | p90 | p99 | daemon CPU | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
}

// printTotal prints the phase table's whole-run row.
func (e *env) printTotal(total phaseResult) {
	fmt.Printf("| **whole run** | %d | **%d** | %s | %d | | | | %.2fs | %.1f MiB |\n",
		total.mounts, total.aws, formatOps(total.ops), total.kube, total.cpu.Seconds(), e.peakRSS())
}

func formatKube(calls map[string]int) string {
	var parts []string
	for k, v := range calls {
		if strings.Contains(k, "serviceaccounts") || strings.Contains(k, "nodes") || strings.Contains(k, "pods") {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func formatOps(ops map[string]int) string {
	var parts []string
	for k, v := range ops {
		parts = append(parts, fmt.Sprintf("%s %d", k[strings.IndexByte(k, ':')+1:], v))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := (len(sorted)*p + 99) / 100
	d := sorted[max(min(i, len(sorted))-1, 0)]
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
