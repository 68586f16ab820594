package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

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
