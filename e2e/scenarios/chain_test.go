//go:build e2e

package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

// recordingProvider is a provider of the test's own: it proves the chain
// kube-apiserver -> kubelet stand-in -> driver -> provider socket without
// our daemon, and shows what the driver forwards.
type recordingProvider struct {
	mu        sync.Mutex
	calls     int
	audiences []string
	attrs     map[string]string
}

func (p *recordingProvider) Version(context.Context, *v1alpha1.VersionRequest) (*v1alpha1.VersionResponse, error) {
	return &v1alpha1.VersionResponse{Version: "v1alpha1", RuntimeName: "e2e-recorder", RuntimeVersion: "0.0.1"}, nil
}

func (p *recordingProvider) Mount(_ context.Context, req *v1alpha1.MountRequest) (*v1alpha1.MountResponse, error) {
	var attrs map[string]string
	if err := json.Unmarshal([]byte(req.GetAttributes()), &attrs); err != nil {
		return nil, err
	}
	var tokens map[string]json.RawMessage
	_ = json.Unmarshal([]byte(attrs["csi.storage.k8s.io/serviceAccount.tokens"]), &tokens)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.audiences = nil
	for a := range tokens {
		p.audiences = append(p.audiences, a)
	}
	slices.Sort(p.audiences)
	attrs["csi.storage.k8s.io/serviceAccount.tokens"] = "(redacted)"
	p.attrs = attrs
	v := fmt.Sprintf("v%d", p.calls)
	return &v1alpha1.MountResponse{
		ObjectVersion: []*v1alpha1.ObjectVersion{{Id: "password", Version: v}, {Id: "username", Version: "v1"}},
		Files: []*v1alpha1.File{
			{Path: "username", Mode: 0o644, Contents: []byte("admin")},
			{Path: "password", Mode: 0o600, Contents: []byte("secret-" + v)},
		},
	}, nil
}

// TestChainWithRecordingProvider checks the harness itself: the pod's volume
// context and both tokens reach a provider, the driver mounts a tmpfs with
// the files, records a SecretProviderClassPodStatus and syncs a Secret, and
// NodeUnpublishVolume leaves nothing mounted.
func TestChainWithRecordingProvider(t *testing.T) {
	localOnly(t, "a provider socket of its own in the driver's directory")
	rec := &recordingProvider{}
	tap, err := cluster.ServeProvider(filepath.Join(env.driver.Opts.ProviderDir, "e2erecorder.sock"), rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tap.Close)

	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	createSPC(t, ns, spc{
		Name:       "recorder",
		Provider:   "e2erecorder",
		Parameters: map[string]string{"objects": "- objectName: whatever"},
		SecretObjects: []map[string]any{{
			"secretName": "synced", "type": "Opaque",
			"data": []any{map[string]any{"objectName": "password", "key": "pw"}},
		}},
	})
	p := mounted(t, ns, sa, "recorder")

	p.wantFiles(t, "password", "username")
	p.wantFile(t, "password", "secret-v1")
	p.wantMode(t, "password", 0o600)
	p.wantMode(t, "username", 0o644)
	if ok, err := cluster.IsMountPoint(p.Vol.TargetPath); !ok || err != nil {
		t.Errorf("%s is not a mount point (%v)", p.Vol.TargetPath, err)
	}

	rec.mu.Lock()
	audiences, attrs := rec.audiences, rec.attrs
	rec.mu.Unlock()
	if want := []string{"pods.eks.amazonaws.com", "sts.amazonaws.com"}; !slices.Equal(audiences, want) {
		t.Errorf("token audiences sent = %v, want %v", audiences, want)
	}
	for k, want := range map[string]string{
		"csi.storage.k8s.io/pod.name":            p.Pod.Name,
		"csi.storage.k8s.io/pod.namespace":       ns,
		"csi.storage.k8s.io/pod.uid":             string(p.Pod.UID),
		"csi.storage.k8s.io/serviceAccount.name": sa,
		"csi.storage.k8s.io/ephemeral":           "true",
		"secretProviderClass":                    "recorder",
		"objects":                                "- objectName: whatever",
	} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}

	s := waitSecret(t, ns, "synced", func(*corev1.Secret) bool { return true })
	if got := string(s.Data["pw"]); got != "secret-v1" {
		t.Errorf("synced Secret pw = %q, want secret-v1", got)
	}
	status, err := env.dyn.Resource(spcpsGVR).Namespace(ns).Get(testContext(t), p.Pod.Name+"-"+ns+"-recorder", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("SecretProviderClassPodStatus: %v", err)
	}
	if mounted, _, _ := unstructured.NestedBool(status.Object, "status", "mounted"); !mounted {
		t.Errorf("SecretProviderClassPodStatus says not mounted: %v", status.Object["status"])
	}

	if err := p.k.Unpublish(testContext(t), p.Vol); err != nil {
		t.Fatalf("NodeUnpublishVolume: %v", err)
	}
	if ms, _ := cluster.MountsUnder(filepath.Dir(p.Vol.TargetPath)); len(ms) > 0 {
		t.Errorf("mounts left after NodeUnpublishVolume: %v", ms)
	}
}
