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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// windowsDir is the driver chart's Windows provider directory, as its pods
// see it.
const windowsDir = `C:\k\secrets-store-csi-providers`

// withWindows are the values that run the daemon and the driver on
// Windows nodes.
var withWindows = []string{"windows.enabled=true", "secrets-store-csi-driver.windows.enabled=true"}

func TestWindowsDaemonSetIsOptIn(t *testing.T) {
	t.Parallel()
	var n int
	for _, o := range render(t).ours() {
		if o.kind == "DaemonSet" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the default values render %d DaemonSets of ours, want only the Linux one", n)
	}
	out, err := runHelm(t, append([]string{"lint", "--strict", chartWithDriver(t)}, setArgs(withWindows)...)...)
	if err != nil || !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint with Windows nodes: %v\n%s", err, out)
	}
}

// On Windows nodes the daemon runs as on Linux ones, with the same flags,
// environment, probes and resources, but for its provider directory, which
// is where the driver's Windows pods look for aws.sock.
func TestWindowsDaemonSetRunsTheSameDaemonWhereTheDriverLooks(t *testing.T) {
	t.Parallel()
	objs := render(t, withWindows...)
	linux := objs.daemonSet(t)
	win := windowsDaemonSet(t, objs)
	lc, wc := container(t, linux), container(t, win)

	if got := flagValue(wc.Args, "provider-volume"); got != windowsDir {
		t.Errorf("Windows --provider-volume = %q, want %q", got, windowsDir)
	}
	without := func(args []string) []string {
		return slices.DeleteFunc(slices.Clone(args), func(a string) bool { return flagName(a) == "provider-volume" })
	}
	if !slices.Equal(without(wc.Args), without(lc.Args)) {
		t.Errorf("Windows args %q differ from Linux args %q beyond --provider-volume", wc.Args, lc.Args)
	}
	for _, f := range []struct {
		name string
		w, l any
	}{
		{"env", wc.Env, lc.Env}, {"ports", wc.Ports, lc.Ports}, {"resources", wc.Resources, lc.Resources},
		{"startup probe", wc.StartupProbe, lc.StartupProbe}, {"liveness probe", wc.LivenessProbe, lc.LivenessProbe},
		{"readiness probe", wc.ReadinessProbe, lc.ReadinessProbe}, {"image", wc.Image, lc.Image},
		{"service account", win.Spec.Template.Spec.ServiceAccountName, linux.Spec.Template.Spec.ServiceAccountName},
		{"priority class", win.Spec.Template.Spec.PriorityClassName, linux.Spec.Template.Spec.PriorityClassName},
	} {
		if !reflect.DeepEqual(f.w, f.l) {
			t.Errorf("Windows %s %+v, Linux %+v: want the same", f.name, f.w, f.l)
		}
	}
	vol := volumeMountedAt(t, win, wc, windowsDir)
	if vol.HostPath == nil || vol.HostPath.Path != windowsDir {
		t.Errorf("volume at %s is %+v, want hostPath %s", windowsDir, vol.VolumeSource, windowsDir)
	}

	// The driver's Windows DaemonSet looks there.
	var drv *appsv1.DaemonSet
	for _, o := range objs.driver() {
		if o.kind == "DaemonSet" && strings.HasSuffix(o.name, "-windows") {
			drv = &appsv1.DaemonSet{}
			if err := yaml.UnmarshalStrict(o.raw, drv); err != nil {
				t.Fatal(err)
			}
		}
	}
	if drv == nil {
		t.Fatal("the driver renders no Windows DaemonSet with secrets-store-csi-driver.windows.enabled")
	}
	if got := flagValue(unquote(driverContainer(t, drv).Args), "provider-volume"); got != windowsDir {
		t.Errorf("the driver's Windows pods look in %q, the daemon creates aws.sock in %q", got, windowsDir)
	}
}

func TestWindowsDaemonSetRunsOnlyOnWindowsNodes(t *testing.T) {
	t.Parallel()
	objs := render(t, withWindows...)
	linux, win := objs.daemonSet(t), windowsDaemonSet(t, objs)
	if win.Spec.Template.Spec.OS == nil || win.Spec.Template.Spec.OS.Name != corev1.Windows {
		t.Errorf("Windows pods' spec.os = %+v, want windows", win.Spec.Template.Spec.OS)
	}
	for _, n := range []struct {
		name         string
		labels       map[string]string
		linux, onWin bool
	}{
		{"a Linux node", map[string]string{"kubernetes.io/os": "linux"}, true, false},
		{"a Windows node", map[string]string{"kubernetes.io/os": "windows"}, false, true},
		{"a Windows virtual kubelet", map[string]string{"kubernetes.io/os": "windows", "type": "virtual-kubelet"}, false, false},
	} {
		if got := schedulable(t, linux.Spec.Template.Spec, n.labels); got != n.linux {
			t.Errorf("on %s the Linux DaemonSet schedules = %v, want %v", n.name, got, n.linux)
		}
		if got := schedulable(t, win.Spec.Template.Spec, n.labels); got != n.onWin {
			t.Errorf("on %s the Windows DaemonSet schedules = %v, want %v", n.name, got, n.onWin)
		}
	}
	// Each DaemonSet selects its own pods; the Windows one none of Linux's.
	for _, ds := range []*appsv1.DaemonSet{linux, win} {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
			t.Errorf("%s: selector %v does not match its pods' labels %v", ds.Name, sel, ds.Spec.Template.Labels)
		}
	}
	sel, _ := metav1.LabelSelectorAsSelector(win.Spec.Selector)
	if sel.Matches(labels.Set(linux.Spec.Template.Labels)) {
		t.Errorf("the Windows selector %v matches the Linux pods", sel)
	}
	// The metrics Service scrapes both.
	var svc corev1.Service
	render(t, append([]string{"metrics.service.enabled=true"}, withWindows...)...).decode(t, "Service", &svc)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(win.Spec.Template.Labels)) {
		t.Errorf("the metrics Service's selector %v misses the Windows pods", svc.Spec.Selector)
	}
}

// The API refuses a pod for Windows that sets any Linux-only security
// field.
func TestWindowsPodsSetNoLinuxSecurityFields(t *testing.T) {
	t.Parallel()
	win := windowsDaemonSet(t, render(t, withWindows...))
	if psc := win.Spec.Template.Spec.SecurityContext; psc != nil {
		if psc.SELinuxOptions != nil || psc.RunAsUser != nil || psc.RunAsGroup != nil || psc.FSGroup != nil || psc.SeccompProfile != nil ||
			psc.Sysctls != nil || psc.SupplementalGroups != nil || psc.FSGroupChangePolicy != nil || psc.AppArmorProfile != nil {
			t.Errorf("Windows pod securityContext %+v sets Linux-only fields", psc)
		}
	}
	sc := container(t, win).SecurityContext
	if sc == nil || sc.WindowsOptions == nil || sc.WindowsOptions.RunAsUserName == nil || *sc.WindowsOptions.RunAsUserName != "ContainerAdministrator" {
		t.Fatalf("Windows container securityContext %+v, want windowsOptions.runAsUserName ContainerAdministrator", sc)
	}
	if sc.Capabilities != nil || sc.Privileged != nil || sc.ReadOnlyRootFilesystem != nil || sc.AllowPrivilegeEscalation != nil ||
		sc.RunAsUser != nil || sc.RunAsGroup != nil || sc.SeccompProfile != nil || sc.SELinuxOptions != nil || sc.ProcMount != nil ||
		sc.AppArmorProfile != nil {
		t.Errorf("Windows container securityContext %+v sets Linux-only fields", sc)
	}
}

func TestWindowsImageDefaultsToTheLinuxOne(t *testing.T) {
	t.Parallel()
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"by default", nil, "ghcr.io/csi-provider-aws/csi-provider-aws:0.1.0"},
		{"image.tag", []string{"image.tag=0.1.1"}, "ghcr.io/csi-provider-aws/csi-provider-aws:0.1.1"},
		{"image.digest", []string{"image.digest=" + digest}, "ghcr.io/csi-provider-aws/csi-provider-aws@" + digest},
		{"a Windows tag", []string{"image.tag=0.1.1", "windows.image.tag=0.1.1-ltsc2022"}, "ghcr.io/csi-provider-aws/csi-provider-aws:0.1.1-ltsc2022"},
		{"a Windows repository", []string{"windows.image.repository=registry.example.com/cpa-windows"}, "registry.example.com/cpa-windows:0.1.0"},
		{"a Windows digest", []string{"windows.image.tag=x", "windows.image.digest=" + digest}, "ghcr.io/csi-provider-aws/csi-provider-aws@" + digest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := container(t, windowsDaemonSet(t, render(t, append(tc.set, withWindows...)...))).Image; got != tc.want {
				t.Errorf("Windows image %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTemplateRefusesAWindowsDaemonSetThatCannotWork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  []string
		// values is a values file: --set would take its backslashes for
		// escapes. The driver chart's Windows directories are written with
		// doubled backslashes, as its own default is.
		values string
		want   string // empty: accepted
	}{
		{name: "the daemon writing the files", set: append([]string{"driverWritesSecrets=false"}, withWindows...),
			want: "windows.enabled needs driverWritesSecrets true"},
		{name: "a driver installed for Linux only", set: []string{"windows.enabled=true"},
			want: "set secrets-store-csi-driver.windows.enabled=true too"},
		{name: "another provider directory than the driver's", set: withWindows, values: `windows: {providerVolume: 'D:\providers'}`,
			want: `windows.providerVolume D:\providers is not a directory the driver's Windows pods look in`},
		{name: "the same directory given to both", set: withWindows,
			values: "windows: {providerVolume: 'D:\\providers'}\nsecrets-store-csi-driver: {windows: {providersDir: 'D:\\\\providers'}}"},
		{name: "a path without a drive", set: withWindows, values: `windows: {providerVolume: '\k\providers'}`, want: "/windows/providerVolume"},
		{name: "the driver installed otherwise", set: []string{"windows.enabled=true", "secrets-store-csi-driver.install=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := setArgs(tc.set)
			if tc.values != "" {
				f := filepath.Join(t.TempDir(), "values.yaml")
				if err := os.WriteFile(f, []byte(tc.values), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-f", f)
			}
			out, err := helmTemplate(t, chartWithDriver(t), args...)
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

// windowsDaemonSet strictly decodes our Windows DaemonSet.
func windowsDaemonSet(t *testing.T, objs objects) *appsv1.DaemonSet {
	t.Helper()
	o, ok := objs.find("DaemonSet", release+"-windows")
	if !ok {
		t.Fatalf("no DaemonSet %s-windows rendered", release)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(o.raw, &ds); err != nil {
		t.Fatalf("DaemonSet %s: %v\n%s", o.name, err, o.raw)
	}
	return &ds
}
