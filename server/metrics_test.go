package server_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
)

// documentedMetric is one row of docs/metrics.md's table of the daemon's
// metrics.
type documentedMetric struct {
	typ    string
	labels []string
}

var (
	metricRowRE = regexp.MustCompile("^\\| `(csi_provider_aws_[a-z_]+)` \\| ([a-z]+) \\|([^|]*)\\|")
	backtickRE  = regexp.MustCompile("`([a-z_]+)`")
)

// documentedMetrics reads the table of docs/metrics.md.
func documentedMetrics(t *testing.T) map[string]documentedMetric {
	t.Helper()
	f, err := os.Open("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]documentedMetric{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := metricRowRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var labels []string
		for _, l := range backtickRE.FindAllStringSubmatch(m[3], -1) {
			labels = append(labels, l[1])
		}
		slices.Sort(labels)
		out[m[1]] = documentedMetric{typ: m[2], labels: labels}
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md lists no csi_provider_aws_ metric")
	}
	return out
}

// exposedMetric says what the registry exposes of one family.
func exposedMetric(mf *dto.MetricFamily) documentedMetric {
	typ := strings.ToLower(mf.GetType().String())
	var labels []string
	if ms := mf.GetMetric(); len(ms) > 0 {
		for _, l := range ms[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
	}
	slices.Sort(labels)
	return documentedMetric{typ: typ, labels: labels}
}

// TestTheRegistryExposesExactlyTheDocumentedMetrics: after one Mount every
// vector has a series, and the csi_provider_aws_ families the registry
// gathers are exactly those docs/metrics.md lists, with its types and
// labels; the rest are the Go runtime's and the process's.
func TestTheRegistryExposesExactlyTheDocumentedMetrics(t *testing.T) {
	f, url := startFake(t)
	f.PutSecretString("us-west-2", "db", "v")
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: defaultCacheTTL,
		kube: cluster(serviceAccount("team", "app", role))})
	if _, err := d.mount(t, pod{ns: "team", name: "web", sa: "app"},
		map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n"}, t.TempDir()); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	mfs, err := d.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	doc := documentedMetrics(t)
	exposed := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "csi_provider_aws_") {
			if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("%s is exposed but is neither the daemon's (documented) nor the Go runtime's or the process's", name)
			}
			continue
		}
		exposed[name] = true
		want, ok := doc[name]
		if !ok {
			t.Errorf("%s is exposed but docs/metrics.md does not list it", name)
			continue
		}
		if got := exposedMetric(mf); got.typ != want.typ || !slices.Equal(got.labels, want.labels) {
			t.Errorf("%s is a %s with labels %v; docs/metrics.md says a %s with %v", name, got.typ, got.labels, want.typ, want.labels)
		}
	}
	for name := range doc {
		if !exposed[name] {
			t.Errorf("docs/metrics.md lists %s, which the registry does not expose after a Mount", name)
		}
	}
}

// TestTheOperatorsMetricsCountWhatHappens runs Mounts through the daemon
// and reads the metrics users alert on.
func TestTheOperatorsMetricsCountWhatHappens(t *testing.T) {
	f, url := startFake(t)
	f.PutSecretString("us-west-2", "db", "v")
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: defaultCacheTTL,
		kube: cluster(serviceAccount("team", "app", role))})
	p := pod{ns: "team", name: "web", sa: "app"}
	mount := func() {
		t.Helper()
		if _, err := d.mount(t, p, map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n"}, t.TempDir()); err != nil {
			t.Fatalf("Mount: %v", err)
		}
	}
	type want struct {
		name   string
		labels map[string]string
		value  float64
	}
	refreshes := func(v float64) want {
		return want{"csi_provider_aws_credential_refreshes_total", map[string]string{"mode": "irsa", "outcome": "ok"}, v}
	}
	lookups := func(result string, v float64) want {
		return want{"csi_provider_aws_value_cache_lookups_total", map[string]string{"result": result}, v}
	}
	steps := []struct {
		name string
		do   func()
		want []want
	}{
		{"a first Mount exchanges the token once and misses the value cache", mount,
			[]want{refreshes(1), lookups("hit", 0), lookups("miss", 1)}},
		{"a second Mount of the same identity reuses both", mount,
			[]want{refreshes(1), lookups("hit", 1), lookups("miss", 1)}},
	}
	for _, s := range steps {
		s.do()
		for _, w := range s.want {
			if got := d.metric(t, w.name, w.labels); got != w.value {
				t.Errorf("%s: %s%v = %v, want %v", s.name, w.name, w.labels, got, w.value)
			}
		}
	}
}

func TestMountsInFlightCountsMountsBeingAnswered(t *testing.T) {
	f, url := startFake(t)
	f.PutSecretString("us-west-2", "db", "v")
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, kube: cluster(serviceAccount("team", "app", role))})
	f.Inject(fakeaws.Fault{Service: "secretsmanager", Delay: 500 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := d.mount(t, pod{ns: "team", name: "web", sa: "app"},
			map[string]string{"objects": "- {objectName: db, objectType: secretsmanager}\n"}, "/pods/web/vol")
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for d.metric(t, "csi_provider_aws_mounts_in_flight", nil) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("csi_provider_aws_mounts_in_flight never showed the Mount waiting on AWS")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("Mount: %v", err)
	}
	if n := d.metric(t, "csi_provider_aws_mounts_in_flight", nil); n != 0 {
		t.Errorf("csi_provider_aws_mounts_in_flight = %v after the Mount answered, want 0", n)
	}
}

// TestTheChartsAlertsAndDashboardNameTheDocumentedMetrics: the one list the
// chart's alerts and dashboard are checked against
// (charts/charttest/metrics.txt) is docs/metrics.md's table, which the
// test above holds to the registry: a metric renamed in the daemon fails
// here before an alert silently stops firing.
func TestTheChartsAlertsAndDashboardNameTheDocumentedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../charts/charttest/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]documentedMetric{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		labels := append([]string(nil), f[2:]...)
		slices.Sort(labels)
		listed[f[0]] = documentedMetric{typ: f[1], labels: labels}
	}
	doc := documentedMetrics(t)
	for name, want := range doc {
		got, ok := listed[name]
		if !ok {
			t.Errorf("docs/metrics.md lists %s; charts/charttest/metrics.txt does not", name)
			continue
		}
		if got.typ != want.typ || !slices.Equal(got.labels, want.labels) {
			t.Errorf("%s: metrics.txt says a %s with %v, docs/metrics.md a %s with %v", name, got.typ, got.labels, want.typ, want.labels)
		}
	}
	for name := range listed {
		if _, ok := doc[name]; !ok {
			t.Errorf("charts/charttest/metrics.txt lists %s, which the daemon does not have", name)
		}
	}
}
