//go:build e2e

package chart

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// nodes are the kinds of node an EKS cluster mixes, by their labels.
var nodes = []struct {
	name   string
	labels map[string]string
	runs   bool
}{
	{"an EC2 node of a managed node group", map[string]string{"kubernetes.io/os": "linux", "eks.amazonaws.com/nodegroup": "ng-1"}, true},
	{"a Karpenter node", map[string]string{"kubernetes.io/os": "linux", "karpenter.sh/nodepool": "default"}, true},
	{"an EKS Auto Mode node", map[string]string{"kubernetes.io/os": "linux", "eks.amazonaws.com/compute-type": "auto"}, true},
	{"an EKS hybrid node", map[string]string{"kubernetes.io/os": "linux", "eks.amazonaws.com/compute-type": "hybrid"}, true},
	{"an EKS Fargate node", map[string]string{"kubernetes.io/os": "linux", "eks.amazonaws.com/compute-type": "fargate"}, false},
	{"a virtual kubelet", map[string]string{"kubernetes.io/os": "linux", "type": "virtual-kubelet"}, false},
}

func TestDefaultAffinityKeepsTheDaemonSetOffFargateAndVirtualKubelets(t *testing.T) {
	t.Parallel()
	spec := render(t).daemonSet(t).Spec.Template.Spec
	for _, n := range nodes {
		if got := schedulable(t, spec, n.labels); got != n.runs {
			t.Errorf("on %s (%v) the provider schedules = %v, want %v", n.name, n.labels, got, n.runs)
		}
	}
}

// schedulable reports whether a pod with spec may be placed on a node with
// these labels by its nodeSelector and required node affinity (taints
// aside: the chart tolerates them all).
func schedulable(t *testing.T, spec corev1.PodSpec, node map[string]string) bool {
	t.Helper()
	set := labels.Set(node)
	if !labels.SelectorFromSet(spec.NodeSelector).Matches(set) {
		return false
	}
	if spec.Affinity == nil || spec.Affinity.NodeAffinity == nil || spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	ops := map[corev1.NodeSelectorOperator]selection.Operator{
		corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
		corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	}
	// Terms are ORed; the expressions of one term are ANDed.
	for _, term := range spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		sel := labels.NewSelector()
		for _, e := range term.MatchExpressions {
			op, ok := ops[e.Operator]
			if !ok {
				t.Fatalf("node affinity operator %s is not handled by this test", e.Operator)
			}
			r, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				t.Fatalf("node affinity expression %+v: %v", e, err)
			}
			sel = sel.Add(*r)
		}
		if len(term.MatchFields) != 0 {
			t.Fatalf("node affinity matchFields %+v are not handled by this test", term.MatchFields)
		}
		if sel.Matches(set) {
			return true
		}
	}
	return false
}
