package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

// round mounts every pod once: all at once when burst, else with a few
// workers, spreading the starts evenly over spreadOver when it is set.
func (e *env) round(burst bool, spreadOver time.Duration) ([]time.Duration, error) {
	workers := 8
	if burst {
		workers = e.s.pods
		if e.s.burst > 0 {
			workers = e.s.burst
		}
	}
	lat := make([]time.Duration, e.s.pods)
	errs := make([]error, e.s.pods)
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				if spreadOver > 0 {
					time.Sleep(time.Until(start.Add(spreadOver * time.Duration(p) / time.Duration(e.s.pods))))
				}
				_, lat[p], errs[p] = e.timedMount(p)
			}
		}()
	}
	for p := range e.s.pods {
		next <- p
	}
	close(next)
	wg.Wait()
	return lat, errors.Join(errs...)
}

// mount sends pod p's Mount as the driver does.
func (e *env) mount(p int) (*v1alpha1.MountResponse, error) {
	resp, _, err := e.timedMount(p)
	return resp, err
}

// timedMount sends pod p's Mount and times the call alone: the request is
// built first, as the driver builds it, so the latency is the daemon's and
// the socket's, not the benchmark's own JSON and token building.
func (e *env) timedMount(p int) (*v1alpha1.MountResponse, time.Duration, error) {
	attrs := map[string]string{}
	_ = json.Unmarshal([]byte(e.params), &attrs)
	exp := time.Now().Add(time.Hour)
	tok := func(aud string) map[string]string {
		return map[string]string{"token": jwt(sa(p%e.s.serviceAccounts), aud, exp), "expirationTimestamp": exp.UTC().Format(time.RFC3339)}
	}
	tokens, _ := json.Marshal(map[string]map[string]string{"sts.amazonaws.com": tok("sts.amazonaws.com")})
	attrs["secretProviderClass"] = "bench"
	attrs["csi.storage.k8s.io/pod.name"] = podName(p)
	attrs["csi.storage.k8s.io/pod.namespace"] = namespace
	attrs["csi.storage.k8s.io/pod.uid"] = "uid-" + podName(p)
	attrs["csi.storage.k8s.io/serviceAccount.name"] = sa(p % e.s.serviceAccounts)
	attrs["csi.storage.k8s.io/ephemeral"] = "true"
	attrs["csi.storage.k8s.io/serviceAccount.tokens"] = string(tokens)
	b, _ := json.Marshal(attrs)
	req := &v1alpha1.MountRequest{Attributes: string(b), Secrets: "{}", Permission: "420",
		TargetPath: filepath.Join(e.dir, "pods", podName(p))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	resp, err := e.client.Mount(ctx, req)
	took := time.Since(t0)
	if err != nil {
		return nil, took, fmt.Errorf("mount of %s: %w", podName(p), err)
	}
	if len(resp.GetFiles()) != e.s.secrets {
		return nil, took, fmt.Errorf("mount of %s returned %d files, want %d", podName(p), len(resp.GetFiles()), e.s.secrets)
	}
	return resp, took, nil
}

// waitRotation counts the pods that see the rotated value now and
// republishes (like kubelet) until all do.
func (e *env) waitRotation(rotatedAt time.Time) (seenNow int, took time.Duration, err error) {
	want := strings.Repeat("r", 64)
	first := true
	for {
		n := 0
		for p := range e.s.pods {
			resp, err := e.mount(p)
			if err != nil {
				return 0, 0, err
			}
			for _, f := range resp.GetFiles() {
				if f.Path == "secret-00" && string(f.Contents) == want {
					n++
				}
			}
		}
		if first {
			seenNow, first = n, false
		}
		if n == e.s.pods {
			return seenNow, time.Since(rotatedAt), nil
		}
		if time.Since(rotatedAt) > e.s.cacheTTL+30*time.Second {
			return seenNow, time.Since(rotatedAt), fmt.Errorf("only %d of %d pods saw the rotated value after %v", n, e.s.pods, time.Since(rotatedAt))
		}
		time.Sleep(min(e.s.cacheTTL/4+time.Millisecond, 5*time.Second))
	}
}

func sa(i int) string { return fmt.Sprintf("sa-%d", i) }

func podName(p int) string { return fmt.Sprintf("pod-%04d", p) }

// jwt is an unsigned token with the claims kubelet's TokenRequest sets.
func jwt(serviceAccount, audience string, exp time.Time) string {
	return testkit.Token{Namespace: namespace, ServiceAccount: serviceAccount, Audience: audience, Expires: exp}.String()
}
