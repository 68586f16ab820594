//go:build e2e

package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
	"github.com/csi-provider-aws/csi-provider-aws/e2e/kubelet"
)

var (
	spcGVR   = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1", Resource: "secretproviderclasses"}
	spcpsGVR = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1", Resource: "secretproviderclasspodstatuses"}
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// newNamespace creates a namespace named after the test; it is deleted when
// the test ends (the controller manager finalizes it).
func newNamespace(t *testing.T) string {
	t.Helper()
	name := nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-")
	name = strings.Trim(name, "-")
	if len(name) > 50 {
		name = name[len(name)-50:]
	}
	name = strings.Trim(name, "-") + "-" + randSuffix()
	ctx := testContext(t)
	_, err := env.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = env.kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func randSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// roleARN is the IAM role a namespace's workload assumes.
func roleARN(namespace string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/e2e-%s", account, namespace)
}

// newServiceAccount creates a ServiceAccount; annotations may be nil.
func newServiceAccount(t *testing.T, namespace, name string, annotations map[string]string) {
	t.Helper()
	_, err := env.kube.CoreV1().ServiceAccounts(namespace).Create(testContext(t), &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Annotations: annotations},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating ServiceAccount %s/%s: %v", namespace, name, err)
	}
}

// irsaServiceAccount creates ServiceAccount "app" annotated with its role,
// as IRSA wants it, and returns its name.
func irsaServiceAccount(t *testing.T, namespace string) string {
	newServiceAccount(t, namespace, "app", map[string]string{"eks.amazonaws.com/role-arn": roleARN(namespace)})
	return "app"
}

// spc is a SecretProviderClass for provider aws.
type spc struct {
	Name       string
	Provider   string // default "aws"
	Parameters map[string]string
	// SecretObjects are spec.secretObjects, as YAML would have them.
	SecretObjects []map[string]any
}

func createSPC(t *testing.T, namespace string, c spc) {
	t.Helper()
	if c.Provider == "" {
		c.Provider = "aws"
	}
	params := map[string]any{}
	for k, v := range c.Parameters {
		params[k] = v
	}
	spec := map[string]any{"provider": c.Provider, "parameters": params}
	if len(c.SecretObjects) > 0 {
		objs := make([]any, len(c.SecretObjects))
		for i, o := range c.SecretObjects {
			objs[i] = o
		}
		spec["secretObjects"] = objs
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "secrets-store.csi.x-k8s.io/v1",
		"kind":       "SecretProviderClass",
		"metadata":   map[string]any{"name": c.Name, "namespace": namespace},
		"spec":       spec,
	}}
	if _, err := env.dyn.Resource(spcGVR).Namespace(namespace).Create(testContext(t), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating SecretProviderClass %s/%s: %v", namespace, c.Name, err)
	}
}

// createSecret creates a Secrets Manager secret in region and returns its
// ARN and version id.
func createSecret(t *testing.T, region, name, value string) (arn, version string) {
	t.Helper()
	out, err := env.sm[region].CreateSecret(testContext(t), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("moto CreateSecret %s in %s: %v", name, region, err)
	}
	return aws.ToString(out.ARN), aws.ToString(out.VersionId)
}

// putSecretValue stores a new current value and returns its version id.
func putSecretValue(t *testing.T, region, name, value string) string {
	t.Helper()
	out, err := env.sm[region].PutSecretValue(testContext(t), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("moto PutSecretValue %s in %s: %v", name, region, err)
	}
	return aws.ToString(out.VersionId)
}

// putParameter creates or overwrites an SSM parameter and returns its version.
func putParameter(t *testing.T, region, name, value string, typ ssmtypes.ParameterType) int64 {
	t.Helper()
	out, err := env.ssm[region].PutParameter(testContext(t), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("moto PutParameter %s in %s: %v", name, region, err)
	}
	return out.Version
}

// pod is one pod of a scenario, with its volume.
type pod struct {
	Pod *corev1.Pod
	// Vol and k are the local backend's kubelet stand-in and the volume it
	// mounts: nil on kind, where only scenarios that run there use v.
	Vol *kubelet.Volume
	k   *kubelet.Kubelet
	v   volume
}

// volume is a pod's Secrets Store volume "secrets" on either backend: the
// kubelet stand-in's on the local control plane, a real kubelet's on kind
// (backend_kind_test.go).
type volume interface {
	// publish is NodePublishVolume: the mount, or a republish once mounted.
	publish(ctx context.Context, timeout time.Duration) error
	readFile(name string) (string, error)
	// mode is the permission of a file as the writer set it.
	mode(name string) (os.FileMode, error)
	// files lists the visible names, without the writer's ..data entries.
	files() ([]string, error)
	// wantNothingMounted asserts a failed mount left nothing behind.
	wantNothingMounted(t *testing.T)
	// waitPastPollInterval waits until a republish reaches the provider.
	waitPastPollInterval(t *testing.T)
}

// localVolume is a volume of the kubelet stand-in.
type localVolume struct {
	k   *kubelet.Kubelet
	vol *kubelet.Volume
}

func (l localVolume) publish(ctx context.Context, timeout time.Duration) error {
	return l.k.Publish(ctx, l.vol, kubelet.PublishOptions{Timeout: timeout})
}
func (l localVolume) readFile(name string) (string, error)  { return l.vol.ReadFile(name) }
func (l localVolume) mode(name string) (os.FileMode, error) { return l.vol.Mode(name) }
func (l localVolume) files() ([]string, error)              { return l.vol.Files() }

func (l localVolume) wantNothingMounted(t *testing.T) {
	t.Helper()
	if ok, _ := cluster.IsMountPoint(l.vol.TargetPath); ok {
		t.Errorf("%s is still a mount point after the failed mount", l.vol.TargetPath)
	}
	if files, err := l.vol.Files(); err == nil && len(files) > 0 {
		t.Errorf("files left after the failed mount: %v", files)
	}
}

// waitPastPollInterval waits until the driver's rotation poll interval has
// passed since it last wrote the pod's files, so that the next republish
// reaches the provider.
func (l localVolume) waitPastPollInterval(t *testing.T) {
	t.Helper()
	fi, err := os.Stat(l.vol.TargetPath)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(fi.ModTime().Add(pollInterval + 300*time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
}

// newPod creates a pod with one Secrets Store volume "secrets" mounting
// class, with the local backend's kubelet stand-in k; it is unpublished and
// deleted when the test ends. On kind, k is nil and the pod is a real one.
func newPod(t *testing.T, k *kubelet.Kubelet, namespace, serviceAccount, class string) *pod {
	t.Helper()
	if env.kind != nil {
		return env.kind.newPod(t, namespace, serviceAccount, class)
	}
	ctx := testContext(t)
	p, err := k.CreatePod(ctx, kubelet.PodSpec{
		Namespace: namespace, Name: "app-" + randSuffix(), ServiceAccount: serviceAccount,
		Volumes: map[string]string{"secrets": class},
	})
	if err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	v := k.Volume(p, "secrets")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := os.Stat(v.TargetPath); err == nil {
			if err := k.Unpublish(ctx, v); err != nil {
				t.Errorf("NodeUnpublishVolume %s: %v", v.TargetPath, err)
			}
		}
		if err := k.DeletePod(ctx, p); err != nil {
			t.Errorf("deleting pod: %v", err)
		}
	})
	return &pod{Pod: p, Vol: v, k: k, v: localVolume{k: k, vol: v}}
}

// publish is kubelet's NodePublishVolume (mount or republish).
func (p *pod) publish(t *testing.T) error {
	t.Helper()
	return p.v.publish(testContext(t), 0)
}

// publishWithin is publish with a deadline of its own.
func (p *pod) publishWithin(t *testing.T, d time.Duration) error {
	t.Helper()
	return p.v.publish(testContext(t), d)
}

// publishUntilOK republishes the way kubelet retries a failed
// NodePublishVolume, until it succeeds or within passes; it returns how long
// that took.
func (p *pod) publishUntilOK(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < within {
		if last = p.publishWithin(t, 10*time.Second); last == nil {
			return time.Since(start)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("NodePublishVolume still failing after %v: %v", within, last)
	return 0
}

func (p *pod) mustPublish(t *testing.T) {
	t.Helper()
	if err := p.publish(t); err != nil {
		t.Fatalf("NodePublishVolume for pod %s/%s: %v", p.Pod.Namespace, p.Pod.Name, err)
	}
}

// mounted is a new pod with class mounted, by the shared driver's kubelet
// stand-in or, on kind, the node's kubelet; it fails the test if the mount
// fails.
func mounted(t *testing.T, namespace, serviceAccount, class string) *pod {
	t.Helper()
	p := newPod(t, env.kubelet, namespace, serviceAccount, class)
	p.mustPublish(t)
	return p
}

// file reads a mounted file.
func (p *pod) file(t *testing.T, name string) string {
	t.Helper()
	s, err := p.v.readFile(name)
	if err != nil {
		files, _ := p.v.files()
		t.Fatalf("reading %s from the pod's mount: %v (files there: %v)", name, err, files)
	}
	return s
}

func (p *pod) wantFile(t *testing.T, name, want string) {
	t.Helper()
	if got := p.file(t, name); got != want {
		t.Errorf("file %s = %q, want %q", name, got, want)
	}
}

func (p *pod) wantMode(t *testing.T, name string, want os.FileMode) {
	t.Helper()
	got, err := p.v.mode(name)
	if err != nil {
		t.Fatalf("stat ..data/%s: %v", name, err)
	}
	if got != want {
		t.Errorf("mode of %s = %#o, want %#o", name, got, want)
	}
}

func (p *pod) wantFiles(t *testing.T, want ...string) {
	t.Helper()
	got, err := p.v.files()
	if err != nil {
		t.Fatalf("listing the pod's mount: %v", err)
	}
	if strings.Join(got, ",") != strings.Join(sortedCopy(want), ",") {
		t.Errorf("files in the mount = %v, want %v", got, sortedCopy(want))
	}
}

// wantNothingMounted asserts a failed mount left no tmpfs and no files.
func (p *pod) wantNothingMounted(t *testing.T) {
	t.Helper()
	p.v.wantNothingMounted(t)
}

// waitPastPollInterval waits until the driver's rotation poll interval has
// passed since it last wrote the pod's files, so that the next republish
// reaches the provider.
func (p *pod) waitPastPollInterval(t *testing.T) {
	t.Helper()
	p.v.waitPastPollInterval(t)
}

// waitSecret waits until the Kubernetes Secret exists and ok accepts it.
func waitSecret(t *testing.T, namespace, name string, ok func(*corev1.Secret) bool) *corev1.Secret {
	t.Helper()
	ctx := testContext(t)
	var s *corev1.Secret
	err := cluster.WaitFor(30*time.Second, 200*time.Millisecond, func() (bool, error) {
		var err error
		s, err = env.kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, err
		}
		if err != nil {
			return false, err
		}
		return ok(s), fmt.Errorf("secret data: %v", keysOf(s.Data))
	})
	if err != nil {
		t.Fatalf("Secret %s/%s: %v\ndriver log:\n%s", namespace, name, err, driverLogTail(20))
	}
	return s
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sortedCopy(out)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// wantError asserts err is a failed NodePublishVolume whose message has
// every one of subs (case-insensitive).
func wantError(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("NodePublishVolume succeeded, want a failure mentioning %q", subs)
	}
	msg := strings.ToLower(err.Error())
	for _, s := range subs {
		if !strings.Contains(msg, strings.ToLower(s)) {
			t.Errorf("error does not mention %q:\n%v", s, err)
		}
	}
}

// daemonMounts reads the shared daemon's own count of Mount calls, every
// outcome summed, from its /metrics.
func daemonMounts(t *testing.T) float64 {
	t.Helper()
	sum, found := readDaemonMetric(t, "csi_provider_aws_mounts_total")
	if !found {
		t.Fatalf("the daemon's /metrics has no csi_provider_aws_mounts_total")
	}
	return sum
}

// daemonMetric reads the shared daemon's counter name, every label
// summed, from its /metrics (0 when it has no sample yet).
func daemonMetric(t *testing.T, name string) float64 {
	t.Helper()
	sum, _ := readDaemonMetric(t, name)
	return sum
}

// readDaemonMetric sums the samples of name on the shared daemon's
// /metrics and reports whether it has any.
func readDaemonMetric(t *testing.T, name string) (sum float64, found bool) {
	t.Helper()
	resp, err := http.Get(env.daemon.HTTPURL + "/metrics")
	if err != nil {
		t.Fatalf("daemon metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	return sum, found
}
