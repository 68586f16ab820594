//go:build e2e

package scenarios

// The kind backend (E2E_BACKEND=kind, `make e2e-kind`): the same scenarios
// on a kind cluster that e2e/kind/run.sh created and filled: the upstream
// driver chart with the token audiences, our chart with the image built
// from the Dockerfile, moto in the cluster. There the node's real kubelet
// mounts real pods, and the test reads their files through kubectl exec.
// Scenarios that need a piece only the local control plane has call
// localOnly and are skipped.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

const (
	// kindMotoURL is where e2e/kind/cluster.yaml maps moto's NodePort on
	// this machine (E2E_KIND_MOTO_URL overrides it).
	kindMotoURL = "http://127.0.0.1:30566"
	// kindPodImage runs the scenarios' pods: it sleeps, and has cat, ls,
	// stat and readlink for the test to read the mount.
	kindPodImage = "busybox:1.36.1"
	// kindMountPath is where the pods mount their Secrets Store volume.
	kindMountPath = "/mnt/secrets"
	// kindMountWithin bounds a first mount, the image pull included.
	kindMountWithin = 3 * time.Minute
	// kindRepublishWithin bounds the wait for the kubelet's own republish
	// to rewrite the files: its sync period (syncFrequency 10s in
	// e2e/kind/cluster.yaml) past the driver's rotation poll interval
	// (pollInterval, which run.sh gives the driver chart), with room.
	kindRepublishWithin = time.Minute
)

func onKind() bool { return os.Getenv("E2E_BACKEND") == "kind" }

// kindBackend reaches the kind cluster through its kubeconfig.
type kindBackend struct {
	kubeconfig string
	node       string
}

func runOnKind(m *testing.M) int {
	e, err := setUpKind()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e (kind): setting up: %v\n", err)
		return 1
	}
	env = e
	logf("kind backend: node %s, moto %s", e.kind.node, e.moto.URL)
	return m.Run()
}

func setUpKind() (*environment, error) {
	kubeconfig := os.Getenv("E2E_KIND_KUBECONFIG")
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	if kubeconfig == "" {
		return nil, errors.New("E2E_BACKEND=kind needs E2E_KIND_KUBECONFIG (e2e/kind/run.sh sets it)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	e := &environment{kind: &kindBackend{kubeconfig: kubeconfig}}
	if e.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if e.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := e.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the cluster's nodes: %w", err)
	}
	if len(nodes.Items) != 1 {
		return nil, fmt.Errorf("the cluster has %d nodes; the kind backend runs on the one node of e2e/kind/cluster.yaml", len(nodes.Items))
	}
	n := nodes.Items[0]
	e.kind.node = n.Name
	// Classes without a region take the node's, as on EKS.
	if r := n.Labels["topology.kubernetes.io/region"]; r != primaryRegion {
		return nil, fmt.Errorf("node %s has region label %q, want %s (e2e/kind/run.sh labels it)", n.Name, r, primaryRegion)
	}
	url := os.Getenv("E2E_KIND_MOTO_URL")
	if url == "" {
		url = kindMotoURL
	}
	if err := cluster.WaitFor(time.Minute, time.Second, func() (bool, error) {
		resp, err := http.Get(url + "/moto-api/data.json")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("moto answered %s", resp.Status)
	}); err != nil {
		return nil, fmt.Errorf("moto at %s (the NodePort of e2e/kind/moto.yaml): %w", url, err)
	}
	e.moto = &cluster.Moto{URL: url}
	e.seedClients()
	return e, nil
}

// newPod creates a real pod that mounts class at kindMountPath; it is
// deleted when the test ends.
func (b *kindBackend) newPod(t *testing.T, namespace, serviceAccount, class string) *pod {
	t.Helper()
	ro := true
	grace := int64(1)
	p, err := env.kube.CoreV1().Pods(namespace).Create(testContext(t), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app-" + randSuffix(), Namespace: namespace},
		Spec: corev1.PodSpec{
			ServiceAccountName:            serviceAccount,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:         "app",
				Image:        kindPodImage,
				Command:      []string{"sleep", "86400"},
				VolumeMounts: []corev1.VolumeMount{{Name: "secrets", MountPath: kindMountPath, ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "secrets", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
				Driver:           cluster.DriverName,
				ReadOnly:         &ro,
				VolumeAttributes: map[string]string{"secretProviderClass": class},
			}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		err := env.kube.CoreV1().Pods(namespace).Delete(context.Background(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting pod: %v", err)
		}
	})
	return &pod{Pod: p, v: &kindVolume{b: b, pod: p}}
}

// kindVolume is a real pod's volume, mounted by the node's kubelet.
type kindVolume struct {
	b   *kindBackend
	pod *corev1.Pod
	// data is the target of the writer's ..data link when the test last
	// saw the files: a rewrite changes it.
	data    string
	started bool
}

// publish is the kubelet's own doing on kind. For a new pod it waits until
// the container started (the mount succeeded) or the kubelet reported the
// mount failed (the FailedMount event's message is the error, as kubectl
// describe pod shows it). For a mounted pod, whose volume the kubelet
// republishes each sync period, it waits until a republish rewrote the
// files, or until the window for one passed (a republish that found nothing
// new).
func (v *kindVolume) publish(ctx context.Context, timeout time.Duration) error {
	if !v.started {
		if timeout == 0 {
			timeout = kindMountWithin
		}
		if err := v.waitStarted(ctx, timeout); err != nil {
			return err
		}
		v.started = true
		v.data, _ = v.dataTarget(ctx)
		return nil
	}
	if timeout == 0 {
		timeout = kindRepublishWithin
	}
	since := time.Now()
	deadline := since.Add(timeout)
	for time.Now().Before(deadline) {
		if cur, err := v.dataTarget(ctx); err == nil && cur != v.data {
			v.data = cur
			return nil
		}
		if msg, _ := v.failedMount(ctx, since); msg != "" {
			return errors.New(msg)
		}
		time.Sleep(2 * time.Second)
	}
	return nil
}

func (v *kindVolume) waitStarted(ctx context.Context, within time.Duration) error {
	var last string
	err := cluster.WaitFor(within, time.Second, func() (bool, error) {
		p, err := env.kube.CoreV1().Pods(v.pod.Namespace).Get(ctx, v.pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil {
				return true, nil
			}
		}
		if msg, err := v.failedMount(ctx, time.Time{}); msg != "" || err != nil {
			last = msg
			return msg != "", err
		}
		return false, fmt.Errorf("pod %s/%s is %s", p.Namespace, p.Name, p.Status.Phase)
	})
	if last != "" {
		return errors.New(last)
	}
	return err
}

// failedMount is the message of the pod's latest FailedMount event newer
// than since, or "".
func (v *kindVolume) failedMount(ctx context.Context, since time.Time) (string, error) {
	evs, err := env.kube.CoreV1().Events(v.pod.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + v.pod.Name + ",reason=FailedMount",
	})
	if err != nil {
		return "", err
	}
	var latest *corev1.Event
	for i, e := range evs.Items {
		if eventTime(e).Before(since) {
			continue
		}
		if latest == nil || eventTime(e).After(eventTime(*latest)) {
			latest = &evs.Items[i]
		}
	}
	if latest == nil {
		return "", nil
	}
	return latest.Message, nil
}

func eventTime(e corev1.Event) time.Time {
	for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return e.CreationTimestamp.Time
}

func (v *kindVolume) exec(ctx context.Context, args ...string) (string, error) {
	return v.b.kubectl(ctx, append([]string{"-n", v.pod.Namespace, "exec", v.pod.Name, "-c", "app", "--"}, args...)...)
}

func (v *kindVolume) dataTarget(ctx context.Context) (string, error) {
	out, err := v.exec(ctx, "readlink", kindMountPath+"/..data")
	return strings.TrimSpace(out), err
}

func (v *kindVolume) readFile(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return v.exec(ctx, "cat", kindMountPath+"/"+name)
}

func (v *kindVolume) mode(name string) (os.FileMode, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := v.exec(ctx, "stat", "-c", "%a", kindMountPath+"/..data/"+name)
	if err != nil {
		return 0, err
	}
	m, err := strconv.ParseUint(strings.TrimSpace(out), 8, 32)
	return os.FileMode(m), err
}

func (v *kindVolume) files() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := v.exec(ctx, "ls", "-1A", kindMountPath)
	if err != nil {
		return nil, err
	}
	return visibleNames(out), nil
}

// visibleNames are the names of ls -1A output without the writer's ".."
// entries, sorted.
func visibleNames(ls string) []string {
	var names []string
	for _, n := range strings.Split(ls, "\n") {
		if n != "" && !strings.HasPrefix(n, "..") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// wantNothingMounted: on kind a failed mount means the kubelet never
// started the container; there is no mount to look into.
func (v *kindVolume) wantNothingMounted(t *testing.T) {
	t.Helper()
	p, err := env.kube.CoreV1().Pods(v.pod.Namespace).Get(testContext(t), v.pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
			t.Errorf("container %s started after the failed mount: %+v", cs.Name, cs.State)
		}
	}
}

// waitPastPollInterval has nothing to wait for on kind: the kubelet's
// republishes come a sync period apart, longer than the driver's poll
// interval, and publish waits for one.
func (v *kindVolume) waitPastPollInterval(*testing.T) {}

func (b *kindBackend) kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", b.kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// driverLogTail is the last n lines of the driver's logs on the node.
func (b *kindBackend) driverLogTail(n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := b.kubectl(ctx, "-n", "kube-system", "logs", "-l", "app=secrets-store-csi-driver", "-c", "secrets-store", "--tail", strconv.Itoa(n))
	if err != nil {
		return err.Error()
	}
	return out
}
