//go:build e2e

package chart

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/yaml"
)

// audiences the provider reads tokens for: IRSA and EKS Pod Identity.
var audiences = []string{"sts.amazonaws.com", "pods.eks.amazonaws.com"}

// One helm install gives a node everything a Mount needs: both DaemonSets,
// the CSIDriver asking for the provider's token audiences, the driver's
// CRDs and RBAC. Every object decodes strictly into its Kubernetes type.
func TestOneInstallRendersTheProviderAndTheDriver(t *testing.T) {
	t.Parallel()
	objs := render(t)
	for _, o := range objs {
		v, ok := typed[o.kind]
		if !ok {
			t.Errorf("%s %s (chart %s) is of a kind this test does not decode", o.kind, o.name, o.chart)
			continue
		}
		if err := yaml.UnmarshalStrict(o.raw, v()); err != nil {
			t.Errorf("%s %s (chart %s): %v", o.kind, o.name, o.chart, err)
		}
	}
	ours, driver := objs.ours(), objs.driver()
	if len(ours) == 0 || len(driver) == 0 {
		t.Fatalf("rendered %d objects of the provider's chart and %d of the driver's, want both", len(ours), len(driver))
	}
	objs.daemonSet(t)
	ds := driverDaemonSet(t, objs)
	csi := csiDriver(t, objs)
	if csi.Name != "secrets-store.csi.k8s.io" {
		t.Errorf("CSIDriver %q, want secrets-store.csi.k8s.io", csi.Name)
	}
	var got []string
	for _, r := range csi.Spec.TokenRequests {
		got = append(got, r.Audience)
	}
	if !slices.Equal(got, audiences) {
		t.Errorf("CSIDriver tokenRequests audiences = %q, want %q: the provider requests no token itself", got, audiences)
	}
	if csi.Spec.RequiresRepublish == nil || !*csi.Spec.RequiresRepublish {
		t.Error("CSIDriver requiresRepublish is not true: rotated secrets would never reach running pods")
	}
	if csi.Spec.PodInfoOnMount == nil || !*csi.Spec.PodInfoOnMount {
		t.Error("CSIDriver podInfoOnMount is not true: the Mount would not say which pod, namespace and ServiceAccount it is for")
	}
	for _, crd := range []string{"secretproviderclasses.secrets-store.csi.x-k8s.io", "secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io"} {
		if !slices.ContainsFunc(driver, func(o object) bool { return o.kind == "CustomResourceDefinition" && o.name == crd }) {
			t.Errorf("no CustomResourceDefinition %s", crd)
		}
	}
	// The driver's own RBAC: its ClusterRole, bound to the ServiceAccount
	// its DaemonSet runs as, which the release creates.
	sa := ds.Spec.Template.Spec.ServiceAccountName
	if !slices.ContainsFunc(driver, func(o object) bool { return o.kind == "ServiceAccount" && o.name == sa }) {
		t.Errorf("the driver runs as ServiceAccount %q, which the release does not create", sa)
	}
	bound := false
	for _, o := range driver {
		if o.kind != "ClusterRoleBinding" || strings.Contains(string(o.raw), "helm.sh/hook") {
			continue
		}
		var b rbacv1.ClusterRoleBinding
		if err := yaml.UnmarshalStrict(o.raw, &b); err != nil {
			t.Fatal(err)
		}
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == namespace && b.RoleRef.Name == "secretproviderclasses-role" {
				bound = true
			}
		}
	}
	if !bound {
		t.Errorf("ClusterRole secretproviderclasses-role is not bound to the driver's ServiceAccount %s/%s", namespace, sa)
	}
}

// typed makes the Kubernetes type each rendered kind decodes into.
var typed = map[string]func() any{
	"DaemonSet":                func() any { return &appsv1.DaemonSet{} },
	"ServiceAccount":           func() any { return &corev1.ServiceAccount{} },
	"ClusterRole":              func() any { return &rbacv1.ClusterRole{} },
	"ClusterRoleBinding":       func() any { return &rbacv1.ClusterRoleBinding{} },
	"CSIDriver":                func() any { return &storagev1.CSIDriver{} },
	"Job":                      func() any { return &batchv1.Job{} },
	"CustomResourceDefinition": func() any { return &map[string]any{} },
}

// The driver chart's values this chart sets, as the driver's objects show
// them.
func TestTheDriverIsConfiguredForTheProviderByDefault(t *testing.T) {
	t.Parallel()
	objs := render(t)
	ds := driverDaemonSet(t, objs)
	c := driverContainer(t, ds)
	for _, tc := range []struct {
		name, flag, want string
	}{
		{"rotation, so rotated secrets reach running pods", "enable-secret-rotation", "true"},
		{"the provider's socket directory", "provider-volume", providerDir},
		{"the answer size the provider stays under", "max-call-recv-msg-size", "4194304"},
	} {
		if got := flagValue(unquote(c.Args), tc.flag); got != tc.want {
			t.Errorf("driver --%s = %q, want %q (%s)", tc.flag, got, tc.want, tc.name)
		}
	}
	spec := ds.Spec.Template.Spec
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("driver priorityClassName = %q, want system-node-critical like the provider's", spec.PriorityClassName)
	}
	if !slices.ContainsFunc(spec.Tolerations, func(tol corev1.Toleration) bool { return tol.Operator == corev1.TolerationOpExists && tol.Key == "" }) {
		t.Errorf("driver tolerations = %+v, want every taint tolerated like the provider", spec.Tolerations)
	}
	ours := objs.daemonSet(t).Spec.Template.Spec
	for _, n := range nodes {
		if got, want := schedulable(t, spec, n.labels), schedulable(t, ours, n.labels); got != want || got != n.runs {
			t.Errorf("on %s the driver schedules = %v, the provider = %v, want both %v", n.name, got, want, n.runs)
		}
	}
}

// The driver must find aws.sock: whatever providerVolume is, it is a
// directory the driver mounts from the same host path and looks in.
func TestTheDriverLooksForTheSocketWhereTheProviderCreatesIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  []string
		dir  string
	}{
		{"by default", nil, providerDir},
		{"in the reference provider's old directory, which the driver also searches",
			[]string{"providerVolume=/etc/kubernetes/secrets-store-csi-providers"}, "/etc/kubernetes/secrets-store-csi-providers"},
		{"in a directory of one's own, given to both", []string{"providerVolume=/opt/csi-providers", "secrets-store-csi-driver.linux.providersDir=/opt/csi-providers"}, "/opt/csi-providers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.set...)
			if got := flagValue(container(t, objs.daemonSet(t)).Args, "provider-volume"); got != tc.dir {
				t.Fatalf("provider --provider-volume = %q, want %q", got, tc.dir)
			}
			ds := driverDaemonSet(t, objs)
			c := driverContainer(t, ds)
			args := unquote(c.Args)
			searched := append([]string{flagValue(args, "provider-volume")}, strings.Split(flagValue(args, "additional-provider-volume-paths"), ",")...)
			if !slices.Contains(searched, tc.dir) {
				t.Errorf("the driver looks in %q, not in %s", searched, tc.dir)
			}
			mounted := false
			for _, m := range c.VolumeMounts {
				for _, v := range ds.Spec.Template.Spec.Volumes {
					if v.Name == m.Name && m.MountPath == tc.dir && v.HostPath != nil && v.HostPath.Path == tc.dir {
						mounted = true
					}
				}
			}
			if !mounted {
				t.Errorf("the driver does not mount host directory %s at %s", tc.dir, tc.dir)
			}
		})
	}
}

func TestTheDriverIsLeftOutWhenInstallIsFalse(t *testing.T) {
	t.Parallel()
	objs := render(t, "secrets-store-csi-driver.install=false")
	if d := objs.driver(); len(d) != 0 {
		t.Errorf("with install=false the release still renders %d objects of the driver, the first %s %s", len(d), d[0].kind, d[0].name)
	}
	objs.daemonSet(t)
	objs.clusterRole(t)
}

// An installed driver that cannot work with the provider is refused; one
// installed otherwise (install=false) is not the chart's to check.
func TestTemplateRefusesADriverThatCannotServeTheProvider(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  []string
		want string // empty: accepted
	}{
		{"a provider directory the driver does not search", []string{"providerVolume=/opt/csi-providers"},
			"set secrets-store-csi-driver.linux.providersDir to /opt/csi-providers"},
		{"another kubelet directory while the daemon writes the files", []string{"driverWritesSecrets=false", "kubeletDir=/data/kubelet"},
			"kubeletDir /data/kubelet differs from secrets-store-csi-driver.linux.kubeletRootDir /var/lib/kubelet"},
		{"no token requests", []string{"secrets-store-csi-driver.tokenRequests=null"}, "secrets-store-csi-driver.tokenRequests is empty"},
		{"the same provider directory with the driver installed otherwise", []string{"providerVolume=/opt/csi-providers", "secrets-store-csi-driver.install=false"}, ""},
		{"the same kubelet directory with the driver installed otherwise",
			[]string{"driverWritesSecrets=false", "kubeletDir=/data/kubelet", "secrets-store-csi-driver.install=false"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := helmTemplate(t, chartWithDriver(t), setArgs(tc.set)...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("helm template refused %v: %v\n%s", tc.set, err, out)
			case tc.want != "" && err == nil:
				t.Fatalf("helm template accepted %v", tc.set)
			case tc.want != "" && !strings.Contains(out, tc.want):
				t.Errorf("the error does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

func driverDaemonSet(t *testing.T, objs objects) *appsv1.DaemonSet {
	t.Helper()
	var ds appsv1.DaemonSet
	objs.driver().decodeOnly(t, "DaemonSet", &ds)
	return &ds
}

func csiDriver(t *testing.T, objs objects) *storagev1.CSIDriver {
	t.Helper()
	var d storagev1.CSIDriver
	objs.driver().decodeOnly(t, "CSIDriver", &d)
	return &d
}

// driverContainer is the driver's own container, beside the registrar and
// the liveness probe.
func driverContainer(t *testing.T, ds *appsv1.DaemonSet) *corev1.Container {
	t.Helper()
	for i, c := range ds.Spec.Template.Spec.Containers {
		if c.Name == "secrets-store" {
			return &ds.Spec.Template.Spec.Containers[i]
		}
	}
	t.Fatalf("the driver's DaemonSet has no secrets-store container")
	return nil
}

// unquote strips the quotes the driver chart writes around some arguments.
func unquote(args []string) []string {
	r := make([]string, len(args))
	for i, a := range args {
		r[i] = strings.Trim(a, `"`)
	}
	return r
}
