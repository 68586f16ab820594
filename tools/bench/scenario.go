package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// scenario is one benchmark run.
type scenario struct {
	name            string
	pods            int
	serviceAccounts int
	secrets         int
	rounds          int
	cacheTTL        time.Duration
	// spread spreads each republish round over twice the TTL, as kubelet's
	// once-a-minute republish does against a 2m TTL scaled down in time.
	spread bool
	// baseline is the reference provider's whole-run figures (docs/reference-baseline.md).
	baseline string
	// burst is how many pods mount at once in the cold phase (0 = all):
	// kubelet mounts the volumes of pods that start together in parallel,
	// and a node starts at most a few hundred pods.
	burst int
	// prefix mounts the secrets with one objectNamePrefix instead of one
	// object each: they are named "set/secret-NN", and the files are the
	// same.
	prefix bool
}

// secretName is the name of secret i in AWS.
func (s scenario) secretName(i int) string {
	name := fmt.Sprintf("secret-%02d", i)
	if s.prefix {
		return "set/" + name
	}
	return name
}

func runScenario(bin string, s scenario) error {
	e := &env{s: s}
	defer e.close()
	if err := e.start(bin); err != nil {
		return err
	}
	e.printHeader()
	total, err := e.coldAndRepublish()
	if err != nil {
		return err
	}
	if s.name != "pods1000" {
		if err := e.rotate(total); err != nil {
			return err
		}
	} else {
		e.printTotal(total)
		entries := e.metric("csi_provider_aws_value_cache_entries")
		fmt.Printf("\nmemory: peak RSS %.1f MiB with %d pods mounted (%s cached values)\n", e.peakRSS(), s.pods, entries)
	}
	if err := e.soloLatency(); err != nil {
		return err
	}
	fmt.Printf("RSS at the end: %.1f MiB\n", e.rss())
	if s.baseline != "" {
		fmt.Println(s.baseline)
	}
	return nil
}

// coldAndRepublish runs the cold phase, then the republish rounds.
func (e *env) coldAndRepublish() (phaseResult, error) {
	var total phaseResult
	cold, err := e.phase("cold", func() ([]time.Duration, error) { return e.round(true, 0) })
	if err != nil {
		return total, err
	}
	total.add(cold)
	rep, err := e.phase(fmt.Sprintf("republish x%d", e.s.rounds), e.republishRounds)
	if err != nil {
		return total, err
	}
	total.add(rep)
	return total, nil
}

// republishRounds mounts every pod once a round, each round spread over
// twice the TTL when the scenario spreads.
func (e *env) republishRounds() ([]time.Duration, error) {
	var all []time.Duration
	for range e.s.rounds {
		var spreadOver time.Duration
		if e.s.spread {
			spreadOver = 2 * e.s.cacheTTL
		}
		lat, err := e.round(false, spreadOver)
		if err != nil {
			return nil, err
		}
		all = append(all, lat...)
	}
	return all, nil
}

// rotate changes secret-00, runs the rotate phase and prints the whole
// run; when the scenario spreads, it then waits for every pod to see it.
func (e *env) rotate(total phaseResult) error {
	e.aws.PutSecretString(region, e.s.secretName(0), strings.Repeat("r", 64))
	rotatedAt := time.Now()
	rot, err := e.phase("rotate", func() ([]time.Duration, error) { return e.round(false, 0) })
	if err != nil {
		return err
	}
	total.add(rot)
	e.printTotal(total)
	if !e.s.spread {
		return nil
	}
	// Only here is the TTL short enough to wait for: the bound is
	// the same with the default TTL, scaled.
	seen, took, err := e.waitRotation(rotatedAt)
	if err != nil {
		return err
	}
	fmt.Printf("\nrotation: %d of %d pods saw the new value in the rotate round; all had it %v after the change (bound: TTL %v + one republish)\n",
		seen, e.s.pods, took.Round(time.Millisecond), e.s.cacheTTL)
	return nil
}

// soloLatency mounts every pod once more, one at a time, and prints the
// latency percentiles.
func (e *env) soloLatency() error {
	// Latency alone: kubelet's republishes of a node's pods are spread over
	// its minute, so a warm Mount rarely queues behind others. One at a
	// time, outside the whole-run totals.
	var solo []time.Duration
	for p := range e.s.pods {
		_, took, err := e.timedMount(p)
		if err != nil {
			return err
		}
		solo = append(solo, took)
	}
	sort.Slice(solo, func(i, j int) bool { return solo[i] < solo[j] })
	fmt.Printf("warm Mount latency, one at a time (%d Mounts): p50 %s, p90 %s, p99 %s\n", len(solo), pct(solo, 50), pct(solo, 90), pct(solo, 99))
	return nil
}

// phaseResult is what one phase cost.
type phaseResult struct {
	mounts, aws, kube int
	ops               map[string]int
	cpu               time.Duration
}

func (p *phaseResult) add(q phaseResult) {
	p.mounts += q.mounts
	p.aws += q.aws
	p.kube += q.kube
	p.cpu += q.cpu
	if p.ops == nil {
		p.ops = map[string]int{}
	}
	for k, v := range q.ops {
		p.ops[k] += v
	}
}

// phase runs fn and prints its row.
func (e *env) phase(name string, fn func() ([]time.Duration, error)) (phaseResult, error) {
	e.aws.ResetCalls()
	e.kube.ResetCalls()
	cpu0 := e.cpu()
	lat, err := fn()
	if err != nil {
		return phaseResult{}, err
	}
	r := phaseResult{mounts: len(lat), ops: e.aws.Calls(), cpu: e.cpu() - cpu0}
	for _, v := range r.ops {
		r.aws += v
	}
	for k, v := range e.kube.Calls() {
		if !strings.HasPrefix(k, "watch") { // an open watch is not a call per Mount
			r.kube += v
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("| %s | %d | %d | %s | %d | %s | %s | %s | %.2fs | %.1f MiB |\n", name, r.mounts, r.aws, formatOps(r.ops), r.kube,
		pct(lat, 50), pct(lat, 90), pct(lat, 99), r.cpu.Seconds(), e.peakRSS())
	return r, nil
}
