package server_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestAThousandConcurrentMountsOfMixedIdentities: 1,000 Mounts at once from
// pods of 20 ServiceAccounts (in 5 namespaces, 4 roles) all succeed with
// their own identity's values, and afterwards the daemon's goroutines and
// heap are back where they were. The figures are logged for the closing
// note; the assertions are on errors, values and leaks, never on time.
func TestAThousandConcurrentMountsOfMixedIdentities(t *testing.T) {
	fake, url := startFake(t)
	var sas []*corev1.ServiceAccount
	for i := range 20 {
		sas = append(sas, serviceAccount(fmt.Sprintf("ns-%d", i%5), fmt.Sprintf("sa-%d", i),
			fmt.Sprintf("arn:aws:iam::123456789012:role/r%d", i%4)))
	}
	for i := range 10 {
		fake.PutSecretString("us-west-2", fmt.Sprintf("s%d", i), fmt.Sprintf("value-%d", i))
	}
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: defaultCacheTTL, staleMax: defaultStaleMax,
		kube: cluster(sas...)})
	objects := ""
	for i := range 10 {
		objects += fmt.Sprintf("- {objectName: s%d, objectType: secretsmanager}\n", i)
	}
	params := map[string]string{"region": "us-west-2", "objects": objects}
	// Warm up what lives as long as the daemon (connections, informers).
	if _, err := d.mount(t, pod{ns: "ns-0", name: "warm", sa: "sa-0"}, params, "/warm"); err != nil {
		t.Fatal(err)
	}
	goroutines, heap := settle()

	const n = 1000
	took := make([]time.Duration, n)
	errs := make([]error, n)
	var peak uint64
	stopPeak := watchHeap(&peak)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		sa := sas[i%len(sas)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			resp, err := d.mount(t, pod{ns: sa.Namespace, name: fmt.Sprintf("p%d", i), sa: sa.Name}, params, fmt.Sprintf("/pods/p%d/vol", i))
			took[i] = time.Since(t0)
			if err == nil && (len(resp.GetFiles()) != 10 || string(resp.GetFiles()[3].Contents) != "value-3") {
				err = fmt.Errorf("answer with %d files", len(resp.GetFiles()))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	stopPeak()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("mount %d: %v", i, err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d Mounts failed", failed, n)
	}
	g2, h2 := settle()
	slices.Sort(took)
	calls := fake.Calls()
	t.Logf("1000 concurrent Mounts, 20 identities: wall %v, p50 %v, p99 %v, max %v; AWS calls: %d STS, %d BatchGetSecretValue; goroutines %d -> %d; heap %.1f MiB -> peak %.1f MiB -> %.1f MiB",
		wall.Round(time.Millisecond), took[n/2].Round(time.Microsecond), took[n*99/100].Round(time.Microsecond), took[n-1].Round(time.Millisecond),
		calls["sts:AssumeRoleWithWebIdentity"], calls["secretsmanager:BatchGetSecretValue"], goroutines, g2,
		inMiB(heap), inMiB(peak), inMiB(h2))
	if g2 > goroutines+5 {
		t.Errorf("goroutines: %d before the load, %d after it settled: something is left running", goroutines, g2)
	}
	// What stays: the value cache (20 identities x 10 small values), the
	// memory of 1,000 volumes and the class cache; a few MiB at most.
	if h2 > heap+8<<20 {
		t.Errorf("heap: %.1f MiB before the load, %.1f MiB after it settled", inMiB(heap), inMiB(h2))
	}
}

// settle waits for goroutines of finished work to end, then reports the
// number of goroutines and the live heap after a collection. Goroutines of
// pooled keep-alive HTTP connections (the daemon's to AWS and the
// in-process fake's side of them: bounded, closed after 90s idle) are not
// counted: they are a pool, not a leak.
func settle() (goroutines int, heap uint64) {
	prev := -1
	for range 50 {
		runtime.GC()
		n := countGoroutines()
		if n == prev {
			break
		}
		prev = n
		time.Sleep(100 * time.Millisecond)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return countGoroutines(), ms.HeapAlloc
}

func countGoroutines() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "net/http.(*persistConn)") || strings.Contains(g, "net/http.(*conn).serve") {
			continue
		}
		n++
	}
	return n
}

// watchHeap samples the heap until stopped, keeping the largest figure.
func watchHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func inMiB(b uint64) float64 { return float64(b) / (1 << 20) }
