//go:build e2e

package chart

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// metric is one of the daemon's metrics as charts/charttest/metrics.txt
// lists it.
type metric struct {
	name, typ string
	labels    []string
}

// daemonMetrics reads metrics.txt: the one list of the series the alerts
// and the dashboard may name. It must equal the csi_provider_aws_* metrics
// of the daemon's registry (server/metrics.go); this package checks the
// chart against the list, and a check of the list against the registry
// belongs beside the registry.
func daemonMetrics(t *testing.T) map[string]metric {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "charts", "charttest", "metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms := map[string]metric{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			t.Fatalf("metrics.txt: %q is not \"name type labels...\"", line)
		}
		m := metric{name: fields[0], typ: fields[1], labels: fields[2:]}
		if _, dup := ms[m.name]; dup {
			t.Fatalf("metrics.txt lists %s twice", m.name)
		}
		ms[m.name] = m
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ms
}

// series resolves a series name to its metric: the name itself, or a
// histogram's _bucket, _sum or _count series.
func series(ms map[string]metric, name string) (m metric, bucket, ok bool) {
	if m, ok := ms[name]; ok {
		return m, false, m.typ != "histogram"
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if m, ok := ms[strings.TrimSuffix(name, suffix)]; ok && strings.HasSuffix(name, suffix) && m.typ == "histogram" {
			return m, suffix == "_bucket", true
		}
	}
	return metric{}, false, false
}

// targetLabels are the labels Prometheus gives every series it scrapes.
var targetLabels = []string{"instance", "job"}

// labelValues are the values the daemon gives its labels, where they are a
// closed set: outcome is "ok" or a failure kind (failure.Kind), result a
// cache lookup's.
func labelValues() map[string][]string {
	outcomes := []string{"ok"}
	for k := failure.Kind(0); !strings.HasPrefix(k.String(), "Kind("); k++ {
		outcomes = append(outcomes, k.String())
	}
	return map[string][]string{"outcome": outcomes, "result": {"hit", "miss"}}
}

func TestMetricListIsWellFormed(t *testing.T) {
	t.Parallel()
	ms := daemonMetrics(t)
	if len(ms) == 0 {
		t.Fatal("metrics.txt lists no metric")
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.name, "csi_provider_aws_") {
			t.Errorf("%s: not a csi_provider_aws_ metric", m.name)
		}
		switch m.typ {
		case "counter":
			if !strings.HasSuffix(m.name, "_total") {
				t.Errorf("counter %s does not end in _total", m.name)
			}
		case "gauge", "histogram":
		default:
			t.Errorf("%s: type %q, want counter, gauge or histogram", m.name, m.typ)
		}
	}
}

// The outcomes issue 11 fixes for the metrics are "ok" and the daemon's
// failure kinds; the alerts' hints and the dashboard name them all.
func TestOutcomesAreTheFailureKinds(t *testing.T) {
	t.Parallel()
	want := []string{"ok", "Internal", "InvalidArgument", "PermissionDenied", "NotFound", "FailedPrecondition",
		"Unauthenticated", "Throttled", "Unavailable", "Timeout", "TooLarge"}
	if got := labelValues()["outcome"]; !slices.Equal(got, want) {
		t.Errorf("failure kinds %q, want %q: update the alerts' descriptions and the dashboard", got, want)
	}
}

func TestMonitoringObjectsAreOptIn(t *testing.T) {
	t.Parallel()
	if objs := render(t); objs.has("PrometheusRule") || objs.has("ConfigMap") {
		t.Error("the default values render a PrometheusRule or a ConfigMap")
	}
	objs := render(t, "metrics.prometheusRule.enabled=true", "metrics.dashboard.enabled=true")
	rule := prometheusRuleOf(t, objs)
	if rule.Namespace != namespace || rule.Name != release {
		t.Errorf("PrometheusRule %s/%s, want %s/%s", rule.Namespace, rule.Name, namespace, release)
	}
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "monitoring", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file ruleSpec
	if err := yaml.UnmarshalStrict(raw, &file); err != nil {
		t.Fatalf("monitoring/alerts.yaml is not a rule file: %v", err)
	}
	if !equalJSON(t, rule.Spec, file) {
		t.Errorf("the PrometheusRule's spec differs from monitoring/alerts.yaml")
	}

	cm := dashboardOf(t, objs)
	if cm.Namespace != namespace || cm.Name != release+"-dashboard" {
		t.Errorf("dashboard ConfigMap %s/%s, want %s/%s-dashboard", cm.Namespace, cm.Name, namespace, release)
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v, want grafana_dashboard=1 for Grafana's sidecar", cm.Labels)
	}
	want, err := os.ReadFile(filepath.Join(chartDir(t), "monitoring", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["csi-provider-aws.json"]; got != strings.TrimSuffix(string(want), "\n") {
		t.Errorf("the ConfigMap's csi-provider-aws.json differs from monitoring/dashboard.json (%d bytes, want %d)", len(got), len(want))
	}
}

func TestMonitoringObjectsGoWhereTheyAreAsked(t *testing.T) {
	t.Parallel()
	objs := render(t, "metrics.prometheusRule.enabled=true", "metrics.prometheusRule.namespace=monitoring",
		"metrics.prometheusRule.labels.release=prometheus", "metrics.dashboard.enabled=true", "metrics.dashboard.namespace=grafana",
		"metrics.dashboard.labels.grafana_dashboard=yes", "metrics.dashboard.annotations.grafana_folder=Secrets")
	rule := prometheusRuleOf(t, objs)
	if rule.Namespace != "monitoring" || rule.Labels["release"] != "prometheus" {
		t.Errorf("PrometheusRule in %s labelled %v, want monitoring with release=prometheus", rule.Namespace, rule.Labels)
	}
	cm := dashboardOf(t, objs)
	if cm.Namespace != "grafana" || cm.Labels["grafana_dashboard"] != "yes" || cm.Annotations["grafana_folder"] != "Secrets" {
		t.Errorf("dashboard ConfigMap in %s labelled %v annotated %v, want grafana, grafana_dashboard=yes, grafana_folder=Secrets",
			cm.Namespace, cm.Labels, cm.Annotations)
	}
}

// Every series a rule or a panel names is one of the daemon's metrics, every
// label it matches, groups by or prints is one that series has (or one
// Prometheus adds), and every outcome or result it matches is a value the
// daemon gives. A typo here would make an alert that never fires.
func TestAlertsAndDashboardNameOnlyTheDaemonsMetrics(t *testing.T) {
	t.Parallel()
	ms := daemonMetrics(t)
	objs := render(t, "metrics.prometheusRule.enabled=true", "metrics.dashboard.enabled=true")
	exprs := append(ruleExprs(t, objs), dashboardExprs(t, objs)...)
	if len(exprs) < 10 {
		t.Fatalf("found only %d expressions in the rules and the dashboard; the test is not reading them", len(exprs))
	}
	for _, e := range exprs {
		checkExpr(t, ms, e)
	}
}

// The dashboard shows every metric the daemon has: a metric added to the
// list is added to the dashboard too.
func TestDashboardShowsEveryMetric(t *testing.T) {
	t.Parallel()
	ms := daemonMetrics(t)
	used := map[string]bool{}
	for _, e := range dashboardExprs(t, render(t, "metrics.dashboard.enabled=true")) {
		for _, name := range seriesName.FindAllString(e.expr, -1) {
			if m, _, ok := series(ms, name); ok {
				used[m.name] = true
			}
		}
	}
	for name := range ms {
		if !used[name] {
			t.Errorf("no panel of the dashboard shows %s", name)
		}
	}
}

// Issue 11's alerts: Mount failures by failure kind, AWS throttling, a
// daemon not ready; each with a severity, a summary and a description.
func TestAlertsWatchMountFailuresThrottlingAndReadiness(t *testing.T) {
	t.Parallel()
	pr := prometheusRuleOf(t, render(t, "metrics.prometheusRule.enabled=true"))
	alerts := map[string]rule{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = r
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s lacks a severity label, a summary or a description", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
		}
	}
	for _, tc := range []struct {
		what  string
		match func(r rule) bool
	}{
		{"Mounts failing, one alert per failure kind", func(r rule) bool {
			return strings.Contains(r.Expr, "csi_provider_aws_mounts_total") && regexp.MustCompile(`by \(outcome\)`).MatchString(r.Expr)
		}},
		{"AWS throttling", func(r rule) bool {
			return strings.Contains(r.Expr, `csi_provider_aws_api_calls_total{outcome="Throttled"}`)
		}},
		{"a daemon not ready", func(r rule) bool { return strings.Contains(r.Expr, "csi_provider_aws_ready") }},
	} {
		found := false
		for _, r := range alerts {
			found = found || tc.match(r)
		}
		if !found {
			t.Errorf("no alert for %s among %d alerts", tc.what, len(alerts))
		}
	}
	// Each failure kind has its own hint in the Mount failures alert.
	for _, r := range alerts {
		if !strings.Contains(r.Expr, "by (outcome)") {
			continue
		}
		for _, kind := range labelValues()["outcome"][1:] {
			if !strings.Contains(r.Annotations["description"], `"`+kind+`"`) {
				t.Errorf("alert %s has no hint for outcome %s", r.Alert, kind)
			}
		}
	}
}

// ---- helpers ----

// prometheusRule holds the fields of the Prometheus Operator's
// PrometheusRule (monitoring.coreos.com/v1) the chart sets; decoding
// strictly into it fails on a misspelt field.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ruleSpec `json:"spec"`
}

type ruleSpec struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []rule `json:"rules"`
	} `json:"groups"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func prometheusRuleOf(t *testing.T, objs objects) *prometheusRule {
	t.Helper()
	var r prometheusRule
	objs.decode(t, "PrometheusRule", &r)
	if r.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("PrometheusRule apiVersion %q, want monitoring.coreos.com/v1", r.APIVersion)
	}
	return &r
}

func dashboardOf(t *testing.T, objs objects) *corev1.ConfigMap {
	t.Helper()
	var cm corev1.ConfigMap
	objs.decode(t, "ConfigMap", &cm)
	return &cm
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(ja) == string(jb)
}

// promExpr is one PromQL expression of a rule or a panel, with the labels
// the text around it prints ($labels.x in an alert, {{x}} in a legend).
type promExpr struct {
	where   string
	expr    string
	printed []string
}

var (
	labelRef    = regexp.MustCompile(`\$labels\.([A-Za-z_][A-Za-z0-9_]*)`)
	legendLabel = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
)

func ruleExprs(t *testing.T, objs objects) []promExpr {
	t.Helper()
	var out []promExpr
	for _, g := range prometheusRuleOf(t, objs).Spec.Groups {
		for _, r := range g.Rules {
			e := promExpr{where: "rule " + r.Alert + r.Record, expr: r.Expr}
			for _, text := range r.Annotations {
				for _, m := range labelRef.FindAllStringSubmatch(text, -1) {
					e.printed = append(e.printed, m[1])
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// dashboardExprs are the expressions of every panel's targets and of the
// template variables.
func dashboardExprs(t *testing.T, objs objects) []promExpr {
	t.Helper()
	var d struct {
		Panels     []dashboardPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string          `json:"name"`
				Query      json.RawMessage `json:"query"`
				Definition string          `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(dashboardOf(t, objs).Data["csi-provider-aws.json"]), &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var out []promExpr
	var walk func(ps []dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				e := promExpr{where: "panel " + p.Title, expr: tg.Expr}
				for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
					e.printed = append(e.printed, m[1])
				}
				out = append(out, e)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			out = append(out, promExpr{where: "variable " + v.Name, expr: v.Definition})
		}
	}
	return out
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

var (
	seriesName      = regexp.MustCompile(`\bcsi_provider_aws_[a-z0-9_]+`)
	selector        = regexp.MustCompile(`\b(csi_provider_aws_[a-z0-9_]+)\s*\{([^}]*)\}`)
	matcher         = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	grouping        = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\(([^)]*)\)`)
	labelValuesCall = regexp.MustCompile(`label_values\(\s*(csi_provider_aws_[a-z0-9_]+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)`)
	aggregation     = regexp.MustCompile(`\b(sum|count|avg|min|max|topk|bottomk|quantile|stddev|stdvar|group)\b\s*(by|without)?\s*\(`)
)

// checkExpr checks one expression against the daemon's metrics.
func checkExpr(t *testing.T, ms map[string]metric, e promExpr) {
	t.Helper()
	names := seriesName.FindAllString(e.expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: %q names none of the daemon's metrics", e.where, e.expr)
		return
	}
	// Every label any series of the expression has.
	has := slices.Clone(targetLabels)
	for _, name := range names {
		m, bucket, ok := series(ms, name)
		if !ok {
			t.Errorf("%s: %s is not a metric of the daemon (charts/charttest/metrics.txt)", e.where, name)
			continue
		}
		has = append(has, m.labels...)
		if bucket {
			has = append(has, "le")
		}
	}
	values := labelValues()
	for _, sel := range selector.FindAllStringSubmatch(e.expr, -1) {
		m, bucket, ok := series(ms, sel[1])
		if !ok {
			continue
		}
		for _, mt := range matcher.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := mt[1], mt[2], mt[3]
			if !slices.Contains(m.labels, label) && !slices.Contains(targetLabels, label) && !(bucket && label == "le") {
				t.Errorf("%s: %s has no label %q", e.where, sel[1], label)
			}
			known, closed := values[label]
			if !closed || strings.Contains(value, "$") {
				continue
			}
			alternatives := []string{value}
			if op == "=~" || op == "!~" {
				alternatives = strings.Split(value, "|")
			}
			for _, v := range alternatives {
				if !slices.Contains(known, v) {
					t.Errorf("%s: %s{%s%s%q}: the daemon gives %s no value %q (it gives %q)", e.where, sel[1], label, op, value, label, v, known)
				}
			}
		}
	}
	var grouped []string
	for _, g := range grouping.FindAllStringSubmatch(e.expr, -1) {
		for _, l := range strings.Split(g[2], ",") {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			if !slices.Contains(has, l) {
				t.Errorf("%s: %s (%s): no series of %q has label %q", e.where, g[1], g[2], e.expr, l)
			}
			if g[1] == "by" {
				grouped = append(grouped, l)
			}
		}
	}
	for _, lv := range labelValuesCall.FindAllStringSubmatch(e.expr, -1) {
		if m, _, ok := series(ms, lv[1]); ok && !slices.Contains(m.labels, lv[2]) && !slices.Contains(targetLabels, lv[2]) {
			t.Errorf("%s: label_values(%s, %s): %s has no label %s", e.where, lv[1], lv[2], lv[1], lv[2])
		}
	}
	// A label printed must survive the expression: one it groups by, or,
	// without aggregation, one its series have.
	survive := grouped
	if !aggregation.MatchString(e.expr) {
		survive = has
	}
	for _, l := range e.printed {
		if !slices.Contains(survive, l) {
			t.Errorf("%s prints label %q, which %q does not keep (it keeps %q)", e.where, l, e.expr, survive)
		}
	}
}
