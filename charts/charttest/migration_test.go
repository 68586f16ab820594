//go:build e2e

package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// A value of the reference provider's chart (secrets-store-csi-driver-
// provider-aws 3.1.1), given as a team's values file would give it, and what
// this chart does with it: the same thing (honoured), or a refusal whose
// message names what to use instead.
type referenceValue struct {
	key     string
	helm    []string
	honour  func(t *testing.T, objs objects)
	refused string
}

// referenceValues is every value of the reference chart, each set to
// something other than its default so that the test sees it act.
var referenceValues = []referenceValue{
	{key: "image.repository", helm: set("image.repository=registry.example.com/mirror/csi-provider-aws"),
		honour: imageIs("registry.example.com/mirror/csi-provider-aws:0.1.0")},
	{key: "image.tag", helm: set("image.tag=0.1.1"), honour: imageIs("ghcr.io/csi-provider-aws/csi-provider-aws:0.1.1")},
	{key: "image.pullPolicy", helm: set("image.pullPolicy=Always"), honour: func(t *testing.T, objs objects) {
		if p := container(t, objs.daemonSet(t)).ImagePullPolicy; p != corev1.PullAlways {
			t.Errorf("imagePullPolicy = %s, want Always", p)
		}
	}},
	{key: "awsRegion", helm: set("awsRegion=eu-west-1"), honour: envIs("AWS_REGION", "eu-west-1")},
	{key: "nameOverride", helm: set("nameOverride=secrets-provider"), honour: func(t *testing.T, objs objects) {
		ds := objs.daemonSet(t)
		if ds.Name != release+"-secrets-provider" || ds.Labels["app.kubernetes.io/name"] != "secrets-provider" {
			t.Errorf("DaemonSet %s labelled name %q, want %s-secrets-provider labelled secrets-provider", ds.Name, ds.Labels["app.kubernetes.io/name"], release)
		}
	}},
	{key: "fullnameOverride", helm: set("fullnameOverride=aws-provider"), honour: func(t *testing.T, objs objects) {
		if n := objs.daemonSet(t).Name; n != "aws-provider" {
			t.Errorf("DaemonSet %s, want aws-provider", n)
		}
	}},
	{key: "providerVolume", helm: set("providerVolume=/etc/kubernetes/secrets-store-csi-providers"), honour: func(t *testing.T, objs objects) {
		const dir = "/etc/kubernetes/secrets-store-csi-providers"
		ds := objs.daemonSet(t)
		c := container(t, ds)
		if got := flagValue(c.Args, "provider-volume"); got != dir {
			t.Errorf("--provider-volume = %q, want %s", got, dir)
		}
		if v := volumeMountedAt(t, ds, c, dir); v.HostPath == nil || v.HostPath.Path != dir {
			t.Errorf("%s is mounted from %+v, want hostPath %s", dir, v.VolumeSource, dir)
		}
	}},
	{key: "kubeletPath", helm: set("kubeletPath=/data/kubelet", "driverWritesSecrets=false", "secrets-store-csi-driver.linux.kubeletRootDir=/data/kubelet"),
		honour: func(t *testing.T, objs objects) {
			ds := objs.daemonSet(t)
			if v := volumeMountedAt(t, ds, container(t, ds), "/data/kubelet/pods"); v.HostPath == nil || v.HostPath.Path != "/data/kubelet/pods" {
				t.Errorf("/data/kubelet/pods is mounted from %+v, want that host directory", v.VolumeSource)
			}
		}},
	{key: "driverWritesSecrets", helm: set("driverWritesSecrets=false"), honour: func(t *testing.T, objs objects) {
		ds := objs.daemonSet(t)
		c := container(t, ds)
		if got := flagValue(c.Args, "driver-writes-secrets"); got != "false" {
			t.Errorf("--driver-writes-secrets = %q, want false", got)
		}
		volumeMountedAt(t, ds, c, "/var/lib/kubelet/pods")
	}},
	{key: "commonLabels", helm: set("commonLabels.team=platform"), honour: func(t *testing.T, objs objects) {
		for _, o := range objs.ours() {
			if o.labels["team"] != "platform" {
				t.Errorf("%s %s has no label team=platform", o.kind, o.name)
			}
		}
	}},
	{key: "podLabels", helm: set("podLabels.example\\.com/owner=platform"), honour: func(t *testing.T, objs objects) {
		if l := objs.daemonSet(t).Spec.Template.Labels; l["example.com/owner"] != "platform" {
			t.Errorf("pod labels %v, want example.com/owner=platform", l)
		}
	}},
	{key: "podAnnotations", helm: []string{"--set-string", "podAnnotations.example\\.com/scrape=false"}, honour: func(t *testing.T, objs objects) {
		if a := objs.daemonSet(t).Spec.Template.Annotations; a["example.com/scrape"] != "false" {
			t.Errorf("pod annotations %v, want example.com/scrape=false", a)
		}
	}},
	{key: "affinity", helm: setJSON(`affinity={"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"node.example.com/pool","operator":"In","values":["batch"]}]}]}}}`),
		honour: func(t *testing.T, objs objects) {
			spec := objs.daemonSet(t).Spec.Template.Spec
			if !schedulable(t, spec, map[string]string{"kubernetes.io/os": "linux", "node.example.com/pool": "batch"}) ||
				schedulable(t, spec, map[string]string{"kubernetes.io/os": "linux", "node.example.com/pool": "web"}) {
				t.Errorf("affinity %+v does not select the batch pool only", spec.Affinity)
			}
		}},
	{key: "resources", helm: setJSON(`resources={"requests":{"cpu":"50m","memory":"100Mi"},"limits":{"cpu":"50m","memory":"100Mi"}}`),
		honour: func(t *testing.T, objs objects) {
			r := container(t, objs.daemonSet(t)).Resources
			for name, got := range map[string]resource.Quantity{"requests.cpu": r.Requests[corev1.ResourceCPU], "requests.memory": r.Requests[corev1.ResourceMemory],
				"limits.cpu": r.Limits[corev1.ResourceCPU], "limits.memory": r.Limits[corev1.ResourceMemory]} {
				want := resource.MustParse(map[bool]string{true: "50m", false: "100Mi"}[strings.HasSuffix(name, "cpu")])
				if got.Cmp(want) != 0 {
					t.Errorf("resources.%s = %s, want %s", name, got.String(), want.String())
				}
			}
		}},
	{key: "priorityClassName", helm: set("priorityClassName="), honour: func(t *testing.T, objs objects) {
		if p := objs.daemonSet(t).Spec.Template.Spec.PriorityClassName; p != "" {
			t.Errorf("priorityClassName = %q, want none", p)
		}
	}},
	{key: "nodeSelector", helm: set("nodeSelector.node\\.example\\.com/pool=batch"), honour: func(t *testing.T, objs objects) {
		want := map[string]string{"kubernetes.io/os": "linux", "node.example.com/pool": "batch"}
		if got := objs.daemonSet(t).Spec.Template.Spec.NodeSelector; !reflect.DeepEqual(got, want) {
			t.Errorf("nodeSelector = %v, want %v", got, want)
		}
	}},
	{key: "tolerations", helm: setJSON("tolerations=[]"), honour: func(t *testing.T, objs objects) {
		if tol := objs.daemonSet(t).Spec.Template.Spec.Tolerations; len(tol) != 0 {
			t.Errorf("tolerations = %+v, want none", tol)
		}
	}},
	{key: "port", helm: set("port=9090"), honour: func(t *testing.T, objs objects) {
		c := container(t, objs.daemonSet(t))
		if got := flagValue(c.Args, "http-addr"); got != ":9090" {
			t.Errorf("--http-addr = %q, want :9090", got)
		}
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9090 || c.LivenessProbe.HTTPGet.Port.StrVal != c.Ports[0].Name {
			t.Errorf("ports %+v, liveness probe on %s: want the probes on container port 9090", c.Ports, c.LivenessProbe.HTTPGet.Port.String())
		}
	}},
	{key: "updateStrategy", helm: setJSON(`updateStrategy={"type":"OnDelete"}`), honour: func(t *testing.T, objs objects) {
		if u := objs.daemonSet(t).Spec.UpdateStrategy; u.Type != appsv1.OnDeleteDaemonSetStrategyType || u.RollingUpdate != nil {
			t.Errorf("updateStrategy = %+v, want OnDelete alone (the API refuses rollingUpdate with it)", u)
		}
	}},
	{key: "imagePullSecrets", helm: setJSON(`imagePullSecrets=[{"name":"registry-credentials"}]`), honour: func(t *testing.T, objs objects) {
		want := []corev1.LocalObjectReference{{Name: "registry-credentials"}}
		if got := objs.daemonSet(t).Spec.Template.Spec.ImagePullSecrets; !reflect.DeepEqual(got, want) {
			t.Errorf("imagePullSecrets = %+v, want %+v", got, want)
		}
	}},
	{key: "rbac.install", helm: set("rbac.install=false"), honour: func(t *testing.T, objs objects) {
		for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "ServiceAccount"} {
			if objs.has(kind) {
				t.Errorf("rbac.install=false still renders a %s", kind)
			}
		}
		if sa := objs.daemonSet(t).Spec.Template.Spec.ServiceAccountName; sa != release {
			t.Errorf("the daemon runs as ServiceAccount %q, want the existing %q, as the reference chart does", sa, release)
		}
	}},
	{key: "rbac.serviceAccountName", helm: set("rbac.serviceAccountName=secrets-provider"), honour: serviceAccountIs("secrets-provider")},
	{key: "securityContext", helm: setJSON(`securityContext={"privileged":false,"allowPrivilegeEscalation":false}`), honour: func(t *testing.T, objs objects) {
		sc := container(t, objs.daemonSet(t)).SecurityContext
		if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("securityContext %+v, want privileged and allowPrivilegeEscalation false", sc)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("securityContext %+v lost the chart's drop ALL: a map given merges into the chart's", sc)
		}
	}},
	{key: "useFipsEndpoint", helm: set("useFipsEndpoint=true"), honour: envIs("AWS_USE_FIPS_ENDPOINT", "true")},
	{key: "podIdentityHttpTimeout", helm: set("podIdentityHttpTimeout=500ms"), honour: flagIs("pod-identity-http-timeout", "500ms")},
	{key: "dnsPolicy", helm: set("dnsPolicy=Default"), honour: func(t *testing.T, objs objects) {
		if p := objs.daemonSet(t).Spec.Template.Spec.DNSPolicy; p != corev1.DNSDefault {
			t.Errorf("dnsPolicy = %q, want Default", p)
		}
	}},
	{key: "dnsConfig", helm: setJSON(`dnsConfig={"options":[{"name":"ndots","value":"2"}]}`), honour: func(t *testing.T, objs objects) {
		c := objs.daemonSet(t).Spec.Template.Spec.DNSConfig
		if c == nil || len(c.Options) != 1 || c.Options[0].Name != "ndots" || c.Options[0].Value == nil || *c.Options[0].Value != "2" {
			t.Errorf("dnsConfig = %+v, want options ndots 2", c)
		}
	}},
	{key: "k8sThrottlingParams.qps", helm: setJSON(`k8sThrottlingParams={"qps":"20"}`), honour: flagIs("qps", "20")},
	{key: "k8sThrottlingParams.burst", helm: setJSON(`k8sThrottlingParams={"burst":"40"}`), honour: flagIs("burst", "40")},
	{key: "secrets-store-csi-driver.install", helm: set("secrets-store-csi-driver.install=false"), honour: func(t *testing.T, objs objects) {
		if d := objs.driver(); len(d) != 0 {
			t.Errorf("install=false still renders %d objects of the driver", len(d))
		}
	}},
	{key: "secrets-store-csi-driver.tokenRequests", helm: setJSON(`secrets-store-csi-driver.tokenRequests=[{"audience":"sts.amazonaws.com"}]`),
		honour: func(t *testing.T, objs objects) {
			if r := csiDriver(t, objs).Spec.TokenRequests; len(r) != 1 || r[0].Audience != "sts.amazonaws.com" {
				t.Errorf("CSIDriver tokenRequests = %+v, want sts.amazonaws.com alone", r)
			}
		}},
	{key: "secrets-store-csi-driver.linux.affinity",
		helm: setJSON(`secrets-store-csi-driver.linux.affinity={"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"node.example.com/pool","operator":"In","values":["batch"]}]}]}}}`),
		honour: func(t *testing.T, objs objects) {
			spec := driverDaemonSet(t, objs).Spec.Template.Spec
			if !schedulable(t, spec, map[string]string{"kubernetes.io/os": "linux", "node.example.com/pool": "batch"}) ||
				schedulable(t, spec, map[string]string{"kubernetes.io/os": "linux", "node.example.com/pool": "web"}) {
				t.Errorf("the driver's affinity %+v does not select the batch pool only", spec.Affinity)
			}
		}},
}

// referenceUnset are the values the reference chart's templates read that
// its values file does not set.
var referenceUnset = []string{"dnsPolicy", "k8sThrottlingParams.qps", "k8sThrottlingParams.burst", "rbac.serviceAccountName"}

// The table above covers the reference chart exactly: every value of its
// defaults file and every value its templates read beside them.
func TestTheMigrationTableCoversEveryValueOfTheReferenceChart(t *testing.T) {
	t.Parallel()
	want := append(valueKeys(t, readValues(t, "reference-3.1.1-defaults.yaml"), ""), referenceUnset...)
	var got []string
	for _, v := range referenceValues {
		got = append(got, v.key)
	}
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("the reference chart's value %s is neither honoured nor refused by a test", k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			t.Errorf("%s is tested as a value of the reference chart, which has no such value", k)
		}
	}
}

func TestEveryValueOfTheReferenceChartIsHonouredOrRefusedWithItsReplacement(t *testing.T) {
	t.Parallel()
	for _, v := range referenceValues {
		t.Run(v.key, func(t *testing.T) {
			t.Parallel()
			out, err := helmTemplate(t, chartWithDriver(t), v.helm...)
			if v.refused != "" {
				if err == nil {
					t.Fatalf("helm template accepted %v, want it refused", v.helm)
				}
				if !strings.Contains(out, v.refused) {
					t.Errorf("the refusal does not say %q:\n%s", v.refused, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("helm template %v: %v\n%s", v.helm, err, out)
			}
			v.honour(t, parseObjects(t, out))
		})
	}
}

// What cannot mean the same here is refused, naming the value to use.
func TestTemplateRefusesTheReferenceChartsValuesThatWouldMeanSomethingElse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		helm []string
		want string
	}{
		{"the reference provider's image", set("image.repository=public.ecr.aws/aws-secrets-manager/secrets-store-csi-driver-provider-aws"),
			"is the reference provider's image: it has none of this chart's flags"},
		{"a private mirror of the reference provider's image", set("image.repository=111122223333.dkr.ecr.us-east-1.amazonaws.com/secrets-store-csi-driver-provider-aws"),
			"Remove image.repository and image.tag"},
		{"kubeletPath beside another kubeletDir", set("kubeletPath=/data/kubelet", "kubeletDir=/srv/kubelet"), "keep only kubeletDir"},
		{"port beside another httpPort", set("port=9090", "httpPort=9191"), "keep only httpPort"},
		{"rbac.install true beside rbac.create false", set("rbac.install=true", "rbac.create=false"), "keep only rbac.create"},
		{"rbac.serviceAccountName beside another serviceAccount.name", set("rbac.serviceAccountName=a", "serviceAccount.name=b"), "keep only serviceAccount.name"},
		{"k8sThrottlingParams.qps beside another qps", append(setJSON(`k8sThrottlingParams={"qps":"20"}`), set("qps=30")...), "keep only qps"},
		{"k8sThrottlingParams.burst beside another burst", append(setJSON(`k8sThrottlingParams={"burst":"40"}`), set("burst=60")...), "keep only burst"},
		{"useFipsEndpoint beside AWS_USE_FIPS_ENDPOINT in env", set("useFipsEndpoint=true", "env[0].name=AWS_USE_FIPS_ENDPOINT", "env[0].value=true"),
			"keep only useFipsEndpoint"},
		{"a podIdentityHttpTimeout the daemon cannot parse", set("podIdentityHttpTimeout=half a second"), "podIdentityHttpTimeout"},
		{"a k8sThrottlingParams key the reference never had", setJSON(`k8sThrottlingParams={"qps":"20","rate":"5"}`), "rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := helmTemplate(t, chartWithDriver(t), tc.helm...)
			if err == nil {
				t.Fatalf("helm template accepted %v", tc.helm)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("the refusal does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

// A team that kept the reference chart's whole defaults file renders it
// here once the image lines go: they are the only values refused.
func TestTheReferenceChartsDefaultValuesFileRendersWithoutItsImage(t *testing.T) {
	t.Parallel()
	file := testdata(t, "reference-3.1.1-defaults.yaml")
	out, err := helmTemplate(t, chartWithDriver(t), "-f", file)
	if err == nil || !strings.Contains(out, "image.repository public.ecr.aws/aws-secrets-manager/secrets-store-csi-driver-provider-aws is the reference provider's image") {
		t.Fatalf("the reference's defaults file rendered or was refused for something other than its image: %v\n%s", err, out)
	}
	values := readValues(t, "reference-3.1.1-defaults.yaml")
	image := values["image"].(map[string]any)
	delete(image, "repository")
	delete(image, "tag")
	objs := renderArgs(t, "-f", writeValues(t, values))

	ds := objs.daemonSet(t)
	spec := ds.Spec.Template.Spec
	c := container(t, ds)
	for flag, want := range map[string]string{"driver-writes-secrets": "false", "http-addr": ":8989", "provider-volume": providerDir} {
		if got := flagValue(c.Args, flag); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	volumeMountedAt(t, ds, c, "/var/lib/kubelet/pods")
	if c.Image != "ghcr.io/csi-provider-aws/csi-provider-aws:0.1.0" {
		t.Errorf("image = %s, want this chart's", c.Image)
	}
	if len(spec.Tolerations) != 0 || spec.PriorityClassName != "" {
		t.Errorf("tolerations %+v, priorityClassName %q: want the reference's defaults, none", spec.Tolerations, spec.PriorityClassName)
	}
	if cpu := c.Resources.Limits[corev1.ResourceCPU]; cpu.String() != "50m" {
		t.Errorf("cpu limit = %s, want the reference's 50m", cpu.String())
	}
	// Its affinity replaces ours: off Fargate, as it says.
	for _, n := range nodes {
		fargate := n.labels["eks.amazonaws.com/compute-type"] == "fargate"
		if got := schedulable(t, spec, n.labels); got == fargate {
			t.Errorf("on %s the provider schedules = %v, want %v", n.name, got, !fargate)
		}
	}
	var got []string
	for _, r := range csiDriver(t, objs).Spec.TokenRequests {
		got = append(got, r.Audience)
	}
	if !slices.Equal(got, audiences) {
		t.Errorf("CSIDriver audiences = %q, want %q", got, audiences)
	}
}

// A values file a team customised for the reference chart renders, and each
// of its settings shows in the objects.
func TestATypicalCustomisedReferenceValuesFileRendersAsItMeant(t *testing.T) {
	t.Parallel()
	objs := renderArgs(t, "-f", testdata(t, "reference-customised.yaml"))
	ds := objs.daemonSet(t)
	spec := ds.Spec.Template.Spec
	c := container(t, ds)
	for flag, want := range map[string]string{"qps": "20", "burst": "40", "pod-identity-http-timeout": "750ms"} {
		if got := flagValue(c.Args, flag); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	envIs("AWS_USE_FIPS_ENDPOINT", "true")(t, objs)
	envIs("AWS_REGION", "us-gov-west-1")(t, objs)
	serviceAccountIs("secrets-provider")(t, objs)
	if spec.NodeSelector["node.example.com/pool"] != "batch" || len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "dedicated" {
		t.Errorf("nodeSelector %v, tolerations %+v: want the batch pool and its taint", spec.NodeSelector, spec.Tolerations)
	}
	if spec.DNSPolicy != corev1.DNSClusterFirst || spec.DNSConfig == nil || len(spec.DNSConfig.Options) != 1 {
		t.Errorf("dnsPolicy %q, dnsConfig %+v: want ClusterFirst with ndots", spec.DNSPolicy, spec.DNSConfig)
	}
	if ds.Labels["team"] != "platform" || spec.ImagePullSecrets[0].Name != "registry-credentials" {
		t.Errorf("labels %v, imagePullSecrets %+v", ds.Labels, spec.ImagePullSecrets)
	}
	driver := driverContainer(t, driverDaemonSet(t, objs))
	if got := flagValue(unquote(driver.Args), "rotation-poll-interval"); got != "10m" {
		t.Errorf("driver --rotation-poll-interval = %q, want 10m", got)
	}
	if !slices.ContainsFunc(objs.driver(), func(o object) bool { return o.kind == "ClusterRole" && o.name == "secretprovidersyncing-role" }) {
		t.Error("syncSecret.enabled renders no secretprovidersyncing-role: secretObjects would not sync")
	}
}

func set(pairs ...string) []string { return setArgs(pairs) }

func setJSON(pairs ...string) []string {
	var args []string
	for _, p := range pairs {
		args = append(args, "--set-json", p)
	}
	return args
}

func imageIs(want string) func(*testing.T, objects) {
	return func(t *testing.T, objs objects) {
		if got := container(t, objs.daemonSet(t)).Image; got != want {
			t.Errorf("image = %s, want %s", got, want)
		}
	}
}

func flagIs(flag, want string) func(*testing.T, objects) {
	return func(t *testing.T, objs objects) {
		if got := flagValue(container(t, objs.daemonSet(t)).Args, flag); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
}

func envIs(name, want string) func(*testing.T, objects) {
	return func(t *testing.T, objs objects) {
		for _, e := range container(t, objs.daemonSet(t)).Env {
			if e.Name == name {
				if e.Value != want {
					t.Errorf("%s = %q, want %q", name, e.Value, want)
				}
				return
			}
		}
		t.Errorf("no %s in the environment, want %q", name, want)
	}
}

// serviceAccountIs checks the release creates ServiceAccount name, runs the
// daemon as it and binds the ClusterRole to it.
func serviceAccountIs(name string) func(*testing.T, objects) {
	return func(t *testing.T, objs objects) {
		if _, ok := objs.find("ServiceAccount", name); !ok {
			t.Errorf("no ServiceAccount %s", name)
		}
		if sa := objs.daemonSet(t).Spec.Template.Spec.ServiceAccountName; sa != name {
			t.Errorf("the daemon runs as %q, want %q", sa, name)
		}
		var b rbacv1.ClusterRoleBinding
		objs.decode(t, "ClusterRoleBinding", &b)
		if len(b.Subjects) != 1 || b.Subjects[0].Name != name {
			t.Errorf("the ClusterRoleBinding binds %+v, want %s", b.Subjects, name)
		}
	}
}

func readValues(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func writeValues(t *testing.T, v map[string]any) string {
	t.Helper()
	raw, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// objectValues are values whose whole map is one value (a PodSpec field, a
// set of labels), not a group of values.
var objectValues = []string{"affinity", "resources", "securityContext", "updateStrategy", "dnsConfig", "commonLabels", "podLabels", "podAnnotations", "nodeSelector"}

// valueKeys lists the values of a values file by their dotted paths.
func valueKeys(t *testing.T, v map[string]any, prefix string) []string {
	var keys []string
	for k, sub := range v {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if m, ok := sub.(map[string]any); ok && len(m) != 0 && !slices.Contains(objectValues, k) {
			keys = append(keys, valueKeys(t, m, path)...)
			continue
		}
		keys = append(keys, path)
	}
	slices.Sort(keys)
	return keys
}
