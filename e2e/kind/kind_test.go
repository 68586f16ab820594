//go:build e2e

// Package kind holds the kind backend's scripts and manifests (run.sh,
// cluster.yaml, moto.yaml, values.yaml; `make e2e-kind`). Running them needs
// a container engine, which CI does not have; these tests check, without
// one, what can be checked: the scripts parse and pass shellcheck, the
// manifests decode strictly into what kind and Kubernetes read, and the
// numbers the pieces share agree. The chart's acceptance of values.yaml is
// checked with the chart (charts/charttest).
package kind

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// scripts are the repository's shell scripts this package lints: the kind
// backend's and the other ones make runs (.ci/run aside).
var scripts = []string{
	"e2e/kind/run.sh",
	"e2e/run.sh",
	"e2e/tools/build.sh",
	"e2e/tools/gen-k8s-go-mod.sh",
	"deploy/render.sh",
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScriptsParse(t *testing.T) {
	for _, s := range scripts {
		out, err := exec.Command("bash", "-n", filepath.Join(repoRoot(t), s)).CombinedOutput()
		if err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
	}
}

// shellcheck comes from Debian (.ci/run installs it); without it, and
// without CI=true, the test is skipped.
func TestScriptsPassShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck not found on PATH (apt-get install shellcheck)")
		}
		t.Skip("shellcheck not found on PATH (apt-get install shellcheck)")
	}
	for _, s := range scripts {
		cmd := exec.Command(bin, "--external-sources", filepath.Join(repoRoot(t), s))
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
	}
}

// kindCluster holds the fields of kind's Cluster (kind.x-k8s.io/v1alpha4)
// that cluster.yaml sets; decoding strictly fails on a misspelt one.
type kindCluster struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Nodes      []struct {
		Role              string `json:"role"`
		ExtraPortMappings []struct {
			ContainerPort int32  `json:"containerPort"`
			HostPort      int32  `json:"hostPort"`
			ListenAddress string `json:"listenAddress"`
			Protocol      string `json:"protocol"`
		} `json:"extraPortMappings"`
		KubeadmConfigPatches []string `json:"kubeadmConfigPatches"`
	} `json:"nodes"`
}

func TestClusterIsOneNodeWithMotosPortAndAQuickKubelet(t *testing.T) {
	var c kindCluster
	if err := yaml.UnmarshalStrict([]byte(read(t, "e2e/kind/cluster.yaml")), &c); err != nil {
		t.Fatalf("cluster.yaml: %v", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("cluster.yaml is %s %s, want kind.x-k8s.io/v1alpha4 Cluster", c.APIVersion, c.Kind)
	}
	// The scenarios' backend wants one node (setUpKind).
	if len(c.Nodes) != 1 || c.Nodes[0].Role != "control-plane" {
		t.Fatalf("cluster.yaml has nodes %+v, want one control-plane node", c.Nodes)
	}
	n := c.Nodes[0]
	nodePort := motoNodePort(t)
	mapped := false
	for _, m := range n.ExtraPortMappings {
		if m.ContainerPort == nodePort && m.ListenAddress == "127.0.0.1" {
			mapped = true
			if url := "http://127.0.0.1:" + itoa(m.HostPort); !strings.Contains(read(t, "e2e/kind/run.sh"), url) ||
				!strings.Contains(read(t, "e2e/scenarios/backend_kind_test.go"), url) {
				t.Errorf("moto is mapped to %s, which run.sh and the backend must both use", url)
			}
		}
	}
	if !mapped {
		t.Errorf("cluster.yaml maps no loopback port to moto's NodePort %d", nodePort)
	}
	var kubelet struct {
		Kind          string `json:"kind"`
		SyncFrequency string `json:"syncFrequency"`
	}
	if len(n.KubeadmConfigPatches) != 1 {
		t.Fatalf("kubeadmConfigPatches %q, want the KubeletConfiguration one", n.KubeadmConfigPatches)
	}
	if err := yaml.UnmarshalStrict([]byte(n.KubeadmConfigPatches[0]), &kubelet); err != nil || kubelet.Kind != "KubeletConfiguration" {
		t.Fatalf("kubeadm patch %q: %v, want a KubeletConfiguration", n.KubeadmConfigPatches[0], err)
	}
	// The kubelet republishes each sync period; the driver forwards a
	// republish only past its poll interval.
	sync, err := time.ParseDuration(kubelet.SyncFrequency)
	if err != nil {
		t.Fatal(err)
	}
	if poll := scenariosDuration(t, "pollInterval"); sync <= poll {
		t.Errorf("kubelet syncFrequency %v is not longer than the driver's poll interval %v", sync, poll)
	}
}

func TestMotoManifestsAreKubernetesObjects(t *testing.T) {
	kinds := map[string]int{}
	for _, doc := range documents(t, read(t, "e2e/kind/moto.yaml")) {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		var v any
		switch meta.Kind {
		case "Namespace":
			v = &corev1.Namespace{}
		case "Deployment":
			v = &appsv1.Deployment{}
		case "Service":
			v = &corev1.Service{}
		default:
			t.Errorf("moto.yaml has a %q, which this test does not decode", meta.Kind)
			continue
		}
		if err := yaml.UnmarshalStrict(doc, v); err != nil {
			t.Errorf("moto.yaml %s: %v", meta.Kind, err)
		}
		kinds[meta.Kind]++
	}
	if kinds["Namespace"] != 1 || kinds["Deployment"] != 1 || kinds["Service"] != 1 {
		t.Errorf("moto.yaml holds %v, want a Namespace, a Deployment and a Service", kinds)
	}
}

// The daemon's AWS endpoint is moto's Service, and its value cache is the
// local backend's.
func TestValuesPointTheDaemonAtMoto(t *testing.T) {
	var v struct {
		CacheTTL string          `json:"cacheTTL"`
		Env      []corev1.EnvVar `json:"env"`
	}
	if err := yaml.Unmarshal([]byte(read(t, "e2e/kind/values.yaml")), &v); err != nil {
		t.Fatal(err)
	}
	svc := motoService(t)
	want := "http://" + svc.Name + "." + svc.Namespace + ".svc.cluster.local:" + itoa(svc.Spec.Ports[0].Port)
	found := false
	for _, e := range v.Env {
		if e.Name == "AWS_ENDPOINT_URL" {
			found = e.Value == want
			if !found {
				t.Errorf("AWS_ENDPOINT_URL = %q, want moto's Service %s", e.Value, want)
			}
		}
	}
	if !found {
		t.Errorf("values.yaml sets no AWS_ENDPOINT_URL %s", want)
	}
	if got, err := time.ParseDuration(v.CacheTTL); err != nil || got != scenariosDuration(t, "cacheTTL") {
		t.Errorf("cacheTTL %q, want the scenarios' cacheTTL %v (%v)", v.CacheTTL, scenariosDuration(t, "cacheTTL"), err)
	}
	// run.sh gives the driver the scenarios' poll interval.
	m := regexp.MustCompile(`(?m)^poll=(\S+)$`).FindStringSubmatch(read(t, "e2e/kind/run.sh"))
	if m == nil {
		t.Fatal("run.sh sets no poll=")
	}
	if got, err := time.ParseDuration(m[1]); err != nil || got != scenariosDuration(t, "pollInterval") {
		t.Errorf("run.sh poll=%s, want the scenarios' pollInterval %v", m[1], scenariosDuration(t, "pollInterval"))
	}
}

// scenariosDuration reads a constant "name = N * time.Second" of
// e2e/scenarios/main_test.go.
func scenariosDuration(t *testing.T, name string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*(\d+)\s*\*\s*time\.Second`).FindStringSubmatch(read(t, "e2e/scenarios/main_test.go"))
	if m == nil {
		t.Fatalf("e2e/scenarios/main_test.go has no %s = N * time.Second", name)
	}
	d, _ := time.ParseDuration(m[1] + "s")
	return d
}

func motoService(t *testing.T) *corev1.Service {
	t.Helper()
	for _, doc := range documents(t, read(t, "e2e/kind/moto.yaml")) {
		var svc corev1.Service
		if err := yaml.Unmarshal(doc, &svc); err == nil && svc.Kind == "Service" {
			if len(svc.Spec.Ports) != 1 {
				t.Fatalf("moto's Service has ports %+v, want one", svc.Spec.Ports)
			}
			return &svc
		}
	}
	t.Fatal("moto.yaml has no Service")
	return nil
}

func motoNodePort(t *testing.T) int32 { return motoService(t).Spec.Ports[0].NodePort }

func documents(t *testing.T, s string) [][]byte {
	t.Helper()
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(stripComments(string(doc))) != "" {
			docs = append(docs, doc)
		}
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
