//go:build e2e

package chart

import (
	"maps"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// recommendedLabels are the Kubernetes recommended labels every object of
// the chart carries, with their values for the default release.
var recommendedLabels = map[string]string{
	"app.kubernetes.io/name":       "csi-provider-aws",
	"app.kubernetes.io/instance":   release,
	"app.kubernetes.io/version":    "0.1.0",
	"app.kubernetes.io/component":  "provider",
	"app.kubernetes.io/part-of":    "secrets-store-csi-driver",
	"app.kubernetes.io/managed-by": "Helm",
}

func TestEveryObjectCarriesTheRecommendedLabelsAndTheCommonLabels(t *testing.T) {
	t.Parallel()
	common := map[string]string{"team": "payments", "example.com/cost-centre": "cc-42"}
	objs := render(t, "metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true", "metrics.dashboard.enabled=true",
		"metrics.serviceMonitor.labels.release=prometheus",
		"metrics.serviceMonitor.labels.team=someone-else", "commonLabels.team=payments", "commonLabels.example\\.com/cost-centre=cc-42")
	want := maps.Clone(recommendedLabels)
	maps.Copy(want, common)
	kinds := map[string]bool{}
	for _, o := range objs.ours() {
		kinds[o.kind] = true
		for k, v := range want {
			if got, ok := o.labels[k]; !ok || got != v {
				t.Errorf("%s %s: label %s = %q (set %v), want %q", o.kind, o.name, k, got, ok, v)
			}
		}
	}
	for _, k := range []string{"DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		if !kinds[k] {
			t.Errorf("no %s rendered; the labels of every kind are checked", k)
		}
	}
	// The ServiceMonitor's own labels join them; where one names a label
	// the chart or commonLabels set, theirs stands (YAML allows one value).
	if sm, _ := objs.find("ServiceMonitor", ""); sm.labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v, want release=prometheus from metrics.serviceMonitor.labels", sm.labels)
	}
	pod := objs.daemonSet(t).Spec.Template.Labels
	for k, v := range want {
		if pod[k] != v {
			t.Errorf("pod label %s = %q, want %q: the pods carry the same labels as their DaemonSet", k, pod[k], v)
		}
	}
}

func TestDaemonSetTakesTheDNSPolicyAndConfigGiven(t *testing.T) {
	t.Parallel()
	ndots := "2"
	for _, tc := range []struct {
		name       string
		set        []string
		wantPolicy corev1.DNSPolicy
		wantConfig *corev1.PodDNSConfig
	}{
		{"unset, the cluster's default", nil, "", nil},
		{"ClusterFirst with ndots 2", []string{"dnsPolicy=ClusterFirst", "dnsConfig.options[0].name=ndots", "dnsConfig.options[0].value=2"},
			corev1.DNSClusterFirst, &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}}}},
		{"None with its own nameserver", []string{"dnsPolicy=None", "dnsConfig.nameservers[0]=10.0.0.2", "dnsConfig.searches[0]=svc.cluster.local"},
			corev1.DNSNone, &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.2"}, Searches: []string{"svc.cluster.local"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := render(t, tc.set...).daemonSet(t).Spec.Template.Spec
			if spec.DNSPolicy != tc.wantPolicy {
				t.Errorf("dnsPolicy = %q, want %q", spec.DNSPolicy, tc.wantPolicy)
			}
			if !reflect.DeepEqual(spec.DNSConfig, tc.wantConfig) {
				t.Errorf("dnsConfig = %+v, want %+v", spec.DNSConfig, tc.wantConfig)
			}
		})
	}
}
