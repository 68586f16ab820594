//go:build e2e

package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// deployArgs are the values deploy/render.sh renders the chart with: the
// defaults, without the driver (deploy/README.md says why).
var deployArgs = []string{"--set", "secrets-store-csi-driver.install=false"}

// deploy/csi-provider-aws.yaml is for installs without Helm: it must be
// exactly what helm template makes of the chart as committed, or a chart
// change has not reached it.
func TestDeployManifestIsTheChartRenderedWithDefaults(t *testing.T) {
	t.Parallel()
	want, err := helmTemplate(t, chartWithDriver(t), deployArgs...)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, want)
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "csi-provider-aws.yaml"))
	if err != nil {
		t.Fatalf("%v: run make deploy", err)
	}
	got := withoutHeader(string(raw))
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	i := 0
	for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			return l[i]
		}
		return "(end of file)"
	}
	t.Errorf("deploy/csi-provider-aws.yaml differs from helm template of the chart with the defaults and %v, first at line %d after its header:\n file: %s\n helm: %s\n"+
		"Run `make deploy` and commit deploy/csi-provider-aws.yaml.", deployArgs, i+1, line(gl), line(wl))
}

// What a user applies is the provider alone: our objects, each strictly a
// Kubernetes object, none of the driver's and no Helm hook.
func TestDeployManifestHoldsTheProviderOnly(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "csi-provider-aws.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := parseObjects(t, withoutHeader(string(raw)))
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.kind)
		if o.chart != release {
			t.Errorf("%s %s comes from chart %s", o.kind, o.name, o.chart)
		}
		if strings.Contains(string(o.raw), "helm.sh/hook") {
			t.Errorf("%s %s is a Helm hook, which nothing runs outside Helm", o.kind, o.name)
		}
		v, ok := typed[o.kind]
		if !ok {
			t.Errorf("%s %s is of a kind this test does not decode", o.kind, o.name)
			continue
		}
		if err := yaml.UnmarshalStrict(o.raw, v()); err != nil {
			t.Errorf("%s %s: %v", o.kind, o.name, err)
		}
	}
	slices.Sort(kinds)
	if want := []string{"ClusterRole", "ClusterRoleBinding", "DaemonSet", "ServiceAccount"}; !slices.Equal(kinds, want) {
		t.Errorf("deploy/csi-provider-aws.yaml holds %v, want %v", kinds, want)
	}
	if ds := objs.daemonSet(t); ds.Namespace != namespace {
		t.Errorf("DaemonSet in namespace %q, want %s", ds.Namespace, namespace)
	}
}

// withoutHeader drops the comment lines deploy/render.sh puts before the
// first document.
func withoutHeader(s string) string {
	for strings.HasPrefix(s, "#") {
		_, s, _ = strings.Cut(s, "\n")
	}
	return s
}

// e2e/kind/values.yaml, with the image run.sh loads, is a valid install of
// the chart beside a driver installed as its own release: the kind backend
// cannot run in CI, so its values are checked here.
func TestKindBackendValuesInstallTheProviderAlone(t *testing.T) {
	t.Parallel()
	objs := renderArgs(t, "-f", filepath.Join(repoRoot(t), "e2e", "kind", "values.yaml"),
		"--set", "image.repository=csi-provider-aws-e2e", "--set", "image.tag=dev")
	if d := objs.driver(); len(d) != 0 {
		t.Errorf("the kind values render %d objects of the driver; run.sh installs it as its own release", len(d))
	}
	c := container(t, objs.daemonSet(t))
	if c.Image != "csi-provider-aws-e2e:dev" {
		t.Errorf("image %q, want the one run.sh loads", c.Image)
	}
	endpoint := ""
	for _, e := range c.Env {
		if e.Name == "AWS_ENDPOINT_URL" {
			endpoint = e.Value
		}
	}
	if !strings.HasPrefix(endpoint, "http://moto.") {
		t.Errorf("AWS_ENDPOINT_URL = %q, want moto's Service", endpoint)
	}
}
