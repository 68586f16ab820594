//go:build e2e

// Package chart checks the Helm chart in charts/csi-provider-aws the way an
// operator relies on it: helm lint and helm template pass, and the rendered
// objects do what the README promises (the socket directory as a hostPath,
// NODE_NAME from the downward API, probes on /healthz and /readyz, no
// capabilities, read-only RBAC), with every flag the chart passes known to
// the daemon and accepted by its validation; the Secrets Store CSI Driver
// installed with it is configured for it; and every value of the
// reference provider's chart is honoured or refused with its replacement
// named. helm is built by e2e/tools/build.sh helm (cached beside the other
// e2e binaries); the driver's chart comes from the Go module cache, so no
// test needs the network.
package chart

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	release   = "csi-provider-aws"
	namespace = "kube-system"
	// providerDir is where the Secrets Store CSI Driver looks for
	// <provider>.sock by default (its chart's linux.providersDir).
	providerDir = "/var/run/secrets-store-csi-providers"
	httpPort    = 8989

	// The dependency: the Secrets Store CSI Driver's chart, and the Go
	// module it ships in.
	driverChart   = "secrets-store-csi-driver"
	driverModule  = "sigs.k8s.io/secrets-store-csi-driver"
	driverVersion = "1.6.1"
)

func TestLintPasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"with the default values", nil},
		{"when the daemon writes the files itself", setArgs([]string{"driverWritesSecrets=false"})},
		{"with metrics service and ServiceMonitor", setArgs([]string{"metrics.serviceMonitor.enabled=true"})},
		{"with the alerts and the dashboard", setArgs([]string{"metrics.prometheusRule.enabled=true", "metrics.dashboard.enabled=true"})},
		{"without the driver", setArgs([]string{"secrets-store-csi-driver.install=false"})},
		{"with a values file customised for the reference provider's chart", []string{"-f", testdata(t, "reference-customised.yaml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := runHelm(t, append([]string{"lint", "--strict", chartWithDriver(t)}, tc.args...)...)
			if err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint did not report success:\n%s", out)
			}
		})
	}
}

// As committed, the chart has no charts/ directory: helm dependency update
// fetches the driver. helm lint still passes then, with one warning, which
// names the missing chart.
func TestLintPassesWithTheDependencyNotYetFetched(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(filepath.Join(chartDir(t), "charts")); err == nil {
		t.Skip("charts/csi-provider-aws/charts exists here (helm dependency update was run); the test is about a fresh clone")
	}
	out, err := runHelm(t, "lint", chartDir(t))
	if err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	var warnings []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "[WARNING]") || strings.HasPrefix(line, "[ERROR]") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "missing these dependencies: secrets-store-csi-driver") {
		t.Errorf("helm lint reported %q, want only the missing secrets-store-csi-driver:\n%s", warnings, out)
	}
}

func TestDaemonSetMountsTheProviderDirectoryFromTheHost(t *testing.T) {
	t.Parallel()
	ds := render(t).daemonSet(t)
	c := container(t, ds)

	if got := flagValue(c.Args, "provider-volume"); got != providerDir {
		t.Errorf("--provider-volume = %q, want %q (the driver's default provider directory)", got, providerDir)
	}
	vol := volumeMountedAt(t, ds, c, providerDir)
	if vol.HostPath == nil || vol.HostPath.Path != providerDir {
		t.Fatalf("volume mounted at %s is %+v, want hostPath %s: the driver finds aws.sock on the node", providerDir, vol.VolumeSource, providerDir)
	}
	var hostPaths []string
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths = append(hostPaths, v.HostPath.Path)
		}
	}
	if !slices.Equal(hostPaths, []string{providerDir}) {
		t.Errorf("hostPath volumes = %v, want only %s while the driver writes the files", hostPaths, providerDir)
	}
	if ds.Spec.Template.Spec.HostNetwork || ds.Spec.Template.Spec.HostPID || ds.Spec.Template.Spec.HostIPC {
		t.Errorf("the pod shares a host namespace (network %v, pid %v, ipc %v); it needs none",
			ds.Spec.Template.Spec.HostNetwork, ds.Spec.Template.Spec.HostPID, ds.Spec.Template.Spec.HostIPC)
	}
}

func TestDaemonWritingFilesMountsKubeletPodsWithHostToContainer(t *testing.T) {
	t.Parallel()
	ds := render(t, "driverWritesSecrets=false").daemonSet(t)
	c := container(t, ds)
	if got := flagValue(c.Args, "driver-writes-secrets"); got != "false" {
		t.Errorf("--driver-writes-secrets = %q, want false", got)
	}
	const pods = "/var/lib/kubelet/pods"
	vol := volumeMountedAt(t, ds, c, pods)
	if vol.HostPath == nil || vol.HostPath.Path != pods {
		t.Fatalf("volume at %s is %+v, want hostPath %s", pods, vol.VolumeSource, pods)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == pods && (m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationHostToContainer) {
			t.Errorf("%s mount propagation = %v, want HostToContainer: the driver's tmpfs mounts come after the pod starts", pods, m.MountPropagation)
		}
	}
}

func TestDaemonSetSetsNodeNameFromTheDownwardAPI(t *testing.T) {
	t.Parallel()
	c := container(t, render(t).daemonSet(t))
	for _, e := range c.Env {
		if e.Name != "NODE_NAME" {
			continue
		}
		if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
			t.Fatalf("NODE_NAME = %+v, want valueFrom.fieldRef spec.nodeName", e)
		}
		return
	}
	t.Fatal("no NODE_NAME: every Mount of a class without a region would read its pod from the API server")
}

// The daemon is not on the host network: its probes reach the pod IP on
// --http-addr's port. A startup probe keeps the liveness probe from killing
// a daemon that is still syncing its caches.
func TestDaemonSetProbesHealthAndReadinessOnTheHTTPPort(t *testing.T) {
	t.Parallel()
	c := container(t, render(t).daemonSet(t))
	if got, want := flagValue(c.Args, "http-addr"), fmt.Sprintf(":%d", httpPort); got != want {
		t.Errorf("--http-addr = %q, want %q: the pod is not on the host network, so the probes reach the pod IP", got, want)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, tc := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/healthz"},
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if tc.probe == nil || tc.probe.HTTPGet == nil {
			t.Errorf("%s probe = %+v, want httpGet %s", tc.name, tc.probe, tc.path)
			continue
		}
		g := tc.probe.HTTPGet
		port := g.Port.IntVal
		if g.Port.StrVal != "" {
			port = ports[g.Port.StrVal]
		}
		if g.Path != tc.path || port != httpPort {
			t.Errorf("%s probe gets %s on port %s (%d), want %s on %d", tc.name, g.Path, g.Port.String(), port, tc.path, httpPort)
		}
		// /healthz waits up to 2 s for the socket to answer Version.
		if tc.probe.TimeoutSeconds < 3 {
			t.Errorf("%s probe timeout %d s is shorter than the 2 s /healthz may take", tc.name, tc.probe.TimeoutSeconds)
		}
	}
}

func TestContainerDropsEveryCapability(t *testing.T) {
	t.Parallel()
	ds := render(t).daemonSet(t)
	sc := container(t, ds).SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("the container has no securityContext.capabilities")
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities = drop %v add %v, want drop [ALL] and nothing added", sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("the container is privileged")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the root filesystem is writable")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile = %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	// Root only to own the socket in the root-owned hostPath directory.
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("runAsUser = %v, want 0: the socket directory on the node belongs to root", sc.RunAsUser)
	}
}

func TestDaemonSetIsScheduledAndRolledLikeANodeCriticalDaemon(t *testing.T) {
	t.Parallel()
	ds := render(t).daemonSet(t)
	spec := ds.Spec.Template.Spec
	if spec.NodeSelector["kubernetes.io/os"] != "linux" {
		t.Errorf("nodeSelector = %v, want kubernetes.io/os: linux", spec.NodeSelector)
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName = %q, want system-node-critical", spec.PriorityClassName)
	}
	shutdown, err := time.ParseDuration(flagValue(container(t, ds).Args, "shutdown-timeout"))
	if err != nil {
		t.Fatalf("--shutdown-timeout: %v", err)
	}
	if spec.TerminationGracePeriodSeconds == nil || time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second <= shutdown {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than --shutdown-timeout %v", spec.TerminationGracePeriodSeconds, shutdown)
	}
	u := ds.Spec.UpdateStrategy
	if u.Type != appsv1.RollingUpdateDaemonSetStrategyType || u.RollingUpdate == nil || u.RollingUpdate.MaxUnavailable == nil ||
		u.RollingUpdate.MaxUnavailable.String() != "10%" {
		t.Errorf("updateStrategy = %+v, want RollingUpdate with maxUnavailable 10%%", u)
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the pod labels %v", sel, ds.Spec.Template.Labels)
	}
	r := container(t, ds).Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want cpu and memory requests and a memory limit", r)
	}
}

func TestClusterRoleOnlyReads(t *testing.T) {
	t.Parallel()
	role := render(t).clusterRole(t)
	allowedVerbs := []string{"get", "list", "watch"}
	allowedResources := []string{"serviceaccounts", "nodes", "pods"} // tokenRequestFallback adds its own rule: its test
	granted := map[string][]string{}
	for i, r := range role.Rules {
		if len(r.NonResourceURLs) != 0 {
			t.Errorf("rule %d grants non-resource URLs %v", i, r.NonResourceURLs)
		}
		if !slices.Equal(r.APIGroups, []string{""}) {
			t.Errorf("rule %d names API groups %q, want only the core group", i, r.APIGroups)
		}
		for _, v := range r.Verbs {
			if !slices.Contains(allowedVerbs, v) {
				t.Errorf("rule %d grants verb %q; the daemon only reads", i, v)
			}
		}
		for _, res := range r.Resources {
			if !slices.Contains(allowedResources, res) {
				t.Errorf("rule %d grants resource %q; the daemon reads only %v", i, res, allowedResources)
			}
			granted[res] = append(granted[res], r.Verbs...)
		}
	}
	// What mounts fail without: the ServiceAccount's role annotation and the
	// node's region label.
	for _, res := range []string{"serviceaccounts", "nodes"} {
		if !slices.Contains(granted[res], "get") {
			t.Errorf("no get on %s: mounts would fail with Forbidden", res)
		}
	}
}

func TestClusterRoleIsBoundToTheDaemonSetsServiceAccount(t *testing.T) {
	t.Parallel()
	objs := render(t)
	ds, role := objs.daemonSet(t), objs.clusterRole(t)
	sa := ds.Spec.Template.Spec.ServiceAccountName
	if _, ok := objs.find("ServiceAccount", sa); !ok {
		t.Errorf("the DaemonSet runs as ServiceAccount %q, which the chart does not create", sa)
	}
	var b rbacv1.ClusterRoleBinding
	objs.decode(t, "ClusterRoleBinding", &b)
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != role.Name {
		t.Errorf("the binding refers to %s %s, want ClusterRole %s", b.RoleRef.Kind, b.RoleRef.Name, role.Name)
	}
	want := rbacv1.Subject{Kind: "ServiceAccount", Name: sa, Namespace: namespace}
	if !slices.Equal(b.Subjects, []rbacv1.Subject{want}) {
		t.Errorf("the binding's subjects = %+v, want only %+v", b.Subjects, want)
	}
}

func TestEveryFlagInTheDaemonSetExistsInTheDaemon(t *testing.T) {
	t.Parallel()
	known := daemonFlags(t)
	for _, helm := range [][]string{
		nil,
		setArgs([]string{"driverWritesSecrets=false", "awsRegion=eu-west-1", "logVerbosity=2", "podIdentityHttpTimeout=2s"}),
		{"-f", testdata(t, "reference-customised.yaml")},
	} {
		args := container(t, renderArgs(t, helm...).daemonSet(t)).Args
		for _, a := range args {
			name := flagName(a)
			if name == "" {
				t.Errorf("argument %q is not a flag; the daemon takes no positional arguments", a)
				continue
			}
			if !known[name] {
				t.Errorf("the chart passes %q but the daemon has no flag %q (csi-provider-aws --help)", a, name)
			}
		}
	}
}

// The daemon parses and validates its flags before it needs a cluster; with
// no in-cluster configuration it then stops at the Kubernetes client. Getting
// that far proves the chart's values are ones the daemon accepts.
func TestDaemonAcceptsTheRenderedArguments(t *testing.T) {
	t.Parallel()
	bin := daemonBinary(t)
	for _, tc := range []struct {
		name string
		helm []string
	}{
		{"default values", nil},
		{"tuned values", setArgs([]string{"cacheTTL=0", "cacheStaleMax=0", "qps=7.5", "burst=15", "cacheMaxBytes=268435456", "mountTimeout=1m30s",
			"shutdownTimeout=500ms", "awsMaxAttempts=5", "logVerbosity=1", "driverWritesSecrets=false", "podIdentityHttpTimeout=250ms"})},
		{"the reference chart's values a team customised", []string{"-f", testdata(t, "reference-customised.yaml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := container(t, renderArgs(t, tc.helm...).daemonSet(t))
			args := c.Args
			// Never touch the node's real directories or ports, whatever
			// the daemon's order of start-up becomes: a later flag wins.
			args = append(args, "--provider-volume="+t.TempDir(), "--http-addr=127.0.0.1:0")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(cleanEnv("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG"),
				"NODE_NAME=chart-test-node", "AWS_EC2_METADATA_DISABLED=true")
			// The rendered environment too (AWS_REGION, AWS_USE_FIPS_ENDPOINT):
			// the daemon loads its AWS configuration before the cluster's.
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
				}
			}
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("the daemon did not stop without a cluster in 20 s; args %q\n%s", args, out)
			}
			if err == nil || !strings.Contains(string(out), "kubernetes client configuration") {
				t.Fatalf("the daemon stopped before reaching the Kubernetes client (flags rejected?): %v\nargs %q\n%s", err, args, out)
			}
		})
	}
}

func TestTemplateRefusesValuesThatWouldBreakTheDaemon(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"a grace period no longer than the shutdown timeout", []string{"shutdownTimeout=1m"}, "terminationGracePeriodSeconds"},
		{"a duration the daemon cannot parse", []string{"cacheTTL=2 minutes"}, "cacheTTL"},
		{"a misspelt key", []string{"cachettl=5m"}, "cachettl"},
		{"a zero qps", []string{"qps=0"}, "qps"},
		{"common labels that override a label of the chart", []string{"commonLabels.app\\.kubernetes\\.io/name=mine"}, "commonLabels sets app.kubernetes.io/name"},
		{"a dnsPolicy None without nameservers", []string{"dnsPolicy=None"}, "dnsConfig.nameservers"},
		{"a dnsPolicy Kubernetes does not have", []string{"dnsPolicy=ClusterLast"}, "dnsPolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := helmTemplate(t, chartWithDriver(t), setArgs(tc.set)...)
			if err == nil {
				t.Fatalf("helm template accepted %v", tc.set)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("the error does not name %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestMetricsObjectsAreOptIn(t *testing.T) {
	t.Parallel()
	if objs := render(t); objs.has("Service") || objs.has("ServiceMonitor") {
		t.Error("the default values render a Service or a ServiceMonitor")
	}
	objs := render(t, "metrics.serviceMonitor.enabled=true")
	var svc corev1.Service
	objs.decode(t, "Service", &svc)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("metrics Service clusterIP = %q, want None: each node's pod is scraped", svc.Spec.ClusterIP)
	}
	sm, ok := objs.find("ServiceMonitor", "")
	if !ok {
		t.Fatal("metrics.serviceMonitor.enabled=true renders no ServiceMonitor")
	}
	if !strings.Contains(string(sm.raw), "path: /metrics") {
		t.Errorf("the ServiceMonitor does not scrape /metrics:\n%s", sm.raw)
	}
}

// The chart's README documents every value the schema knows.
func TestReadmeDocumentsEveryValue(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := yaml.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range schemaLeaves("", schema) {
		if key == "global" {
			continue
		}
		if !bytes.Contains(readme, []byte("| `"+key+"` |")) {
			t.Errorf("README.md has no row for value %q", key)
		}
	}
}

// ---- helpers ----

type object struct {
	kind, name string
	// chart is the chart whose template rendered the object: release for
	// ours, driverChart for the dependency's.
	chart  string
	labels map[string]string
	raw    []byte
}

type objects []object

// render runs helm template on the chart with the driver beside it, with
// --set pairs, and returns the documents.
func render(t *testing.T, set ...string) objects {
	t.Helper()
	return renderArgs(t, setArgs(set)...)
}

func setArgs(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

// renderArgs runs helm template with more arguments (--set, -f...) and
// returns the documents.
func renderArgs(t *testing.T, args ...string) objects {
	t.Helper()
	out, err := helmTemplate(t, chartWithDriver(t), args...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, out)
	}
	return parseObjects(t, out)
}

// helmTemplate renders the chart in dir as release in namespace, CRDs
// included.
func helmTemplate(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	return runHelm(t, append([]string{"template", release, dir, "--namespace", namespace, "--include-crds"}, args...)...)
}

var sourceLine = regexp.MustCompile(`(?m)^# Source: ([^/]+)/(charts/([^/]+)/)?`)

func parseObjects(t *testing.T, out string) objects {
	t.Helper()
	var objs objects
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("splitting helm template output: %v", err)
		}
		var meta struct {
			metav1.TypeMeta   `json:",inline"`
			metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("parsing a rendered document: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			continue // comments only
		}
		// helm prints the CRDs of crds/ directories without a Source
		// line; of the two charts only the driver's has any.
		chart := driverChart
		if m := sourceLine.FindSubmatch(doc); m != nil {
			chart = string(m[1])
			if len(m[3]) != 0 {
				chart = string(m[3])
			}
		}
		objs = append(objs, object{kind: meta.Kind, name: meta.Name, chart: chart, labels: meta.Labels, raw: doc})
	}
	return objs
}

// ours are the objects of csi-provider-aws's own templates.
func (o objects) ours() objects { return o.of(release) }

// driver are the objects of the Secrets Store CSI Driver's chart.
func (o objects) driver() objects { return o.of(driverChart) }

func (o objects) of(chart string) objects {
	var r objects
	for _, obj := range o {
		if obj.chart == chart {
			r = append(r, obj)
		}
	}
	return r
}

// find returns our object of kind (and name, if not empty).
func (o objects) find(kind, name string) (object, bool) {
	for _, obj := range o.ours() {
		if obj.kind == kind && (name == "" || obj.name == name) {
			return obj, true
		}
	}
	return object{}, false
}

func (o objects) has(kind string) bool { _, ok := o.find(kind, ""); return ok }

// decode strictly parses our only object of kind into v: an unknown field
// (a misspelt key in a template) fails the test.
func (o objects) decode(t *testing.T, kind string, v any) {
	t.Helper()
	o.ours().decodeOnly(t, kind, v)
}

// decodeOnly strictly parses the only object of kind among o into v.
func (o objects) decodeOnly(t *testing.T, kind string, v any) {
	t.Helper()
	var found []object
	for _, obj := range o {
		if obj.kind == kind {
			found = append(found, obj)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s objects rendered, want 1", len(found), kind)
	}
	if err := yaml.UnmarshalStrict(found[0].raw, v); err != nil {
		t.Fatalf("%s %s: %v\n%s", kind, found[0].name, err, found[0].raw)
	}
}

// daemonSet strictly decodes our Linux DaemonSet (windows.enabled adds
// <name>-windows).
func (o objects) daemonSet(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	linux := slices.DeleteFunc(slices.Clone(o.ours()), func(obj object) bool {
		return obj.kind == "DaemonSet" && strings.HasSuffix(obj.name, "-windows")
	})
	var ds appsv1.DaemonSet
	linux.decodeOnly(t, "DaemonSet", &ds)
	return &ds
}

func (o objects) clusterRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	var r rbacv1.ClusterRole
	o.decode(t, "ClusterRole", &r)
	return &r
}

func container(t *testing.T, ds *appsv1.DaemonSet) *corev1.Container {
	t.Helper()
	cs := ds.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("the DaemonSet has %d containers, want 1", len(cs))
	}
	return &cs[0]
}

func volumeMountedAt(t *testing.T, ds *appsv1.DaemonSet, c *corev1.Container, path string) corev1.Volume {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				return v
			}
		}
		t.Fatalf("mount %s names volume %q, which the pod does not have", path, m.Name)
	}
	t.Fatalf("nothing is mounted at %s; mounts: %+v", path, c.VolumeMounts)
	return corev1.Volume{}
}

// flagName returns the name of a "-name=value" or "--name=value" argument.
func flagName(arg string) string {
	if !strings.HasPrefix(arg, "-") {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}

// flagValue returns the value of the last --name=value in args (Go's flag
// package lets the last one win).
func flagValue(args []string, name string) string {
	v := ""
	for _, a := range args {
		if flagName(a) == name {
			_, v, _ = strings.Cut(a, "=")
		}
	}
	return v
}

func schemaLeaves(prefix string, node map[string]any) []string {
	props, _ := node["properties"].(map[string]any)
	if len(props) == 0 {
		return []string{prefix}
	}
	var keys []string
	for k, v := range props {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		sub, _ := v.(map[string]any)
		keys = append(keys, schemaLeaves(p, sub)...)
	}
	slices.Sort(keys)
	return keys
}

var flagLine = regexp.MustCompile(`^\s+-([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// daemonFlags returns the names of the daemon's flags from its --help.
func daemonFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command(daemonBinary(t), "--help").CombinedOutput()
	flags := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			flags[m[1]] = true
		}
	}
	for _, must := range []string{"provider-volume", "v"} {
		if !flags[must] {
			t.Fatalf("could not read the daemon's flags from --help (no %q):\n%s", must, out)
		}
	}
	return flags
}

var (
	repoOnce sync.Once
	repo     string
	repoErr  error

	helmOnce sync.Once
	helmBin  string
	helmErr  error

	daemonOnce sync.Once
	daemonBin  string
	daemonErr  error
	daemonDir  string

	copyOnce sync.Once
	copyDir  string
	copyErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{daemonDir, copyDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// repoRoot is the directory of the main module's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	repoOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			repoErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			repoErr = errors.New("not inside the module")
			return
		}
		repo = filepath.Dir(gomod)
	})
	if repoErr != nil {
		t.Fatal(repoErr)
	}
	return repo
}

// testdata is the path of a file in this package's testdata directory.
func testdata(t *testing.T, name string) string {
	return filepath.Join(repoRoot(t), "charts", "charttest", "testdata", name)
}

func chartDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "charts", "csi-provider-aws")
}

// chartWithDriver is a copy of the chart, made once, with the Secrets Store
// CSI Driver's chart in its charts/ directory as helm dependency update would
// leave it, taken from the Go module cache instead of the chart repository:
// the module sigs.k8s.io/secrets-store-csi-driver ships its chart, and go.mod
// requires the version Chart.yaml names.
func chartWithDriver(t *testing.T) string {
	t.Helper()
	src := chartDir(t)
	copyOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", driverModule).Output()
		if err != nil {
			copyErr = fmt.Errorf("go list -m %s: %w", driverModule, err)
			return
		}
		modDir, version, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
		if version != "v"+driverVersion {
			copyErr = fmt.Errorf("go.mod requires %s %s; Chart.yaml's dependency is %s", driverModule, version, driverVersion)
			return
		}
		dir, err := os.MkdirTemp("", "chart-test-")
		if err != nil {
			copyErr = err
			return
		}
		copyDir = dir
		dst := filepath.Join(dir, release)
		if err := copyTree(src, dst); err != nil {
			copyErr = err
			return
		}
		if err := os.RemoveAll(filepath.Join(dst, "charts")); err != nil {
			copyErr = err
			return
		}
		copyErr = copyTree(filepath.Join(modDir, "charts", driverChart), filepath.Join(dst, "charts", driverChart))
	})
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	return filepath.Join(copyDir, release)
}

// copyTree copies the regular files under src to dst, writable (the module
// cache is read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// helmPath builds helm once through e2e/tools/build.sh, which reuses the
// cached binary while e2e/tools/helm/go.sum is unchanged.
func helmPath(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	helmOnce.Do(func() {
		cmd := exec.Command("bash", filepath.Join(root, "e2e", "tools", "build.sh"), "helm")
		out, err := cmd.CombinedOutput()
		if err != nil {
			helmErr = fmt.Errorf("e2e/tools/build.sh helm: %w\n%s", err, out)
			return
		}
		helmBin = filepath.Join(binDir(), "helm")
		if _, err := os.Stat(helmBin); err != nil {
			helmErr = fmt.Errorf("e2e/tools/build.sh helm left no %s: %w\n%s", helmBin, err, out)
		}
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmBin
}

// runHelm runs helm with its cache, configuration and data in temporary
// directories, so no repository list or plugin of the machine's user plays a
// part, and returns stdout and stderr together.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := helmPath(t)
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv("KUBECONFIG", "HELM_NAMESPACE", "HELM_KUBECONTEXT"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// daemonBinary builds the daemon once for the package's tests.
func daemonBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	daemonOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chart-test-daemon-")
		if err != nil {
			daemonErr = err
			return
		}
		daemonDir = dir
		daemonBin = filepath.Join(dir, "csi-provider-aws")
		cmd := exec.Command("go", "build", "-o", daemonBin, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			daemonErr = fmt.Errorf("go build of the daemon: %w\n%s", err, out)
		}
	})
	if daemonErr != nil {
		t.Fatal(daemonErr)
	}
	return daemonBin
}

// binDir is where e2e/tools/build.sh leaves binaries: $E2E_BIN_DIR, else
// the user cache directory (the same rule as build.sh).
func binDir() string {
	if d := os.Getenv("E2E_BIN_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "csi-provider-aws-e2e", "bin")
}

// cleanEnv is the test's environment without the named variables.
func cleanEnv(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return env
}

// TestTokenRequestFallbackAddsExactlyTheRuleItNeeds: the value passes the
// flag and adds create on serviceaccounts/token, nothing else; off (the
// default) neither.
func TestTokenRequestFallbackAddsExactlyTheRuleItNeeds(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		objs := render(t, fmt.Sprintf("tokenRequestFallback=%v", on))
		args := container(t, objs.daemonSet(t)).Args
		if got := slices.Contains(args, "--token-request-fallback=true"); got != on {
			t.Errorf("tokenRequestFallback=%v: the flag is passed: %v (args %q)", on, got, args)
		}
		var token []rbacv1.PolicyRule
		for _, r := range objs.clusterRole(t).Rules {
			if slices.Contains(r.Resources, "serviceaccounts/token") {
				token = append(token, r)
			}
		}
		switch {
		case !on && len(token) != 0:
			t.Errorf("tokenRequestFallback off grants %v", token)
		case on && (len(token) != 1 || !slices.Equal(token[0].Verbs, []string{"create"}) || len(token[0].Resources) != 1):
			t.Errorf("tokenRequestFallback on grants %v, want create on serviceaccounts/token alone", token)
		}
	}
}
