//go:build e2e

// Package kubelet plays the kubelet's part towards a CSI node plugin, since
// the end-to-end suite has no kubelet: it creates Pods bound to the driver's
// node, reads the CSIDriver object the way kubelet does, requests
// ServiceAccount tokens bound to the pod for each audience it lists, and
// calls NodePublishVolume (first mount and republish) and
// NodeUnpublishVolume with the volume context kubelet would send.
//
// It never runs containers and never touches the mounted files itself; tests
// read them through the Volume it returns.
package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Volume context and secret keys kubelet uses (k8s.io/kubernetes pkg/volume/csi).
const (
	keyPodName         = "csi.storage.k8s.io/pod.name"
	keyPodNamespace    = "csi.storage.k8s.io/pod.namespace"
	keyPodUID          = "csi.storage.k8s.io/pod.uid"
	keyServiceAccount  = "csi.storage.k8s.io/serviceAccount.name"
	keyEphemeral       = "csi.storage.k8s.io/ephemeral"
	keyServiceAccToken = "csi.storage.k8s.io/serviceAccount.tokens"
)

// Kubelet is one node's kubelet stand-in, talking to one CSI driver.
type Kubelet struct {
	// NodeName is the node pods are bound to: the driver's --nodeid.
	NodeName string
	// Root plays /var/lib/kubelet.
	Root string
	// DriverName is the CSIDriver object to read.
	DriverName string

	client kubernetes.Interface
	conn   *grpc.ClientConn
	node   csi.NodeClient
}

// New connects to the CSI driver at endpoint (unix://...).
func New(client kubernetes.Interface, endpoint, driverName, nodeName, root string) (*Kubelet, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &Kubelet{
		NodeName:   nodeName,
		Root:       root,
		DriverName: driverName,
		client:     client,
		conn:       conn,
		node:       csi.NewNodeClient(conn),
	}, nil
}

// Close drops the connection to the driver.
func (k *Kubelet) Close() error { return k.conn.Close() }

// NodeID asks the driver for its node id (NodeGetInfo).
func (k *Kubelet) NodeID(ctx context.Context) (string, error) {
	r, err := k.node.NodeGetInfo(ctx, &csi.NodeGetInfoRequest{})
	return r.GetNodeId(), err
}

// PodSpec describes a pod with Secrets Store CSI volumes.
type PodSpec struct {
	Namespace, Name string
	// ServiceAccount is spec.serviceAccountName ("default" when empty).
	ServiceAccount string
	// Volumes maps a volume name to the SecretProviderClass it mounts.
	Volumes map[string]string
	// Labels are added to the pod.
	Labels map[string]string
}

// CreatePod creates the Pod bound to this node. It stays Pending: no
// container ever runs.
func (k *Kubelet) CreatePod(ctx context.Context, s PodSpec) (*corev1.Pod, error) {
	sa := s.ServiceAccount
	if sa == "" {
		sa = "default"
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels},
		Spec: corev1.PodSpec{
			NodeName:           k.NodeName,
			ServiceAccountName: sa,
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "registry.k8s.io/pause:3.10",
			}},
		},
	}
	for name, spc := range s.Volumes {
		ro := true
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name: name,
			VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
				Driver:           k.DriverName,
				ReadOnly:         &ro,
				VolumeAttributes: map[string]string{"secretProviderClass": spc},
			}},
		})
		pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{
			Name: name, MountPath: "/mnt/" + name, ReadOnly: true,
		})
	}
	return k.client.CoreV1().Pods(s.Namespace).Create(ctx, pod, metav1.CreateOptions{})
}

// DeletePod deletes the pod at once, as kubelet would after its containers
// stopped (there is no kubelet to confirm a graceful delete).
func (k *Kubelet) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Volume is one CSI volume of one pod on this node.
type Volume struct {
	Pod  *corev1.Pod
	Name string
	// TargetPath is <root>/pods/<uid>/volumes/kubernetes.io~csi/<name>/mount,
	// the path the driver checks against the pod's UID and volume name.
	TargetPath string
	// VolumeID is the handle kubelet makes for an inline volume.
	VolumeID string
}

// Volume returns the pod's volume called name.
func (k *Kubelet) Volume(pod *corev1.Pod, name string) *Volume {
	sum := sha256.Sum256([]byte(string(pod.UID) + name))
	return &Volume{
		Pod:        pod,
		Name:       name,
		TargetPath: filepath.Join(k.Root, "pods", string(pod.UID), "volumes", "kubernetes.io~csi", name, "mount"),
		VolumeID:   fmt.Sprintf("csi-%x", sum),
	}
}

// PublishOptions change what one NodePublishVolume carries.
type PublishOptions struct {
	// Timeout bounds the call (kubelet's is two minutes); default 60s.
	Timeout time.Duration
}

// Publish calls NodePublishVolume for v the way kubelet does for a mount and
// for every republish: it reads the CSIDriver, requests a fresh token bound
// to the pod for each audience in its tokenRequests, and passes them in the
// volume context, or in the request's secrets when the CSIDriver sets
// serviceAccountTokenInSecrets.
func (k *Kubelet) Publish(ctx context.Context, v *Volume, o PublishOptions) error {
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	drv, err := k.client.StorageV1().CSIDrivers().Get(ctx, k.DriverName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("CSIDriver %s: %w", k.DriverName, err)
	}
	var src *corev1.CSIVolumeSource
	for _, vol := range v.Pod.Spec.Volumes {
		if vol.Name == v.Name && vol.CSI != nil {
			src = vol.CSI
		}
	}
	if src == nil {
		return fmt.Errorf("pod %s/%s has no CSI volume %q", v.Pod.Namespace, v.Pod.Name, v.Name)
	}
	vc := map[string]string{}
	for key, val := range src.VolumeAttributes {
		vc[key] = val
	}
	if drv.Spec.PodInfoOnMount != nil && *drv.Spec.PodInfoOnMount {
		vc[keyPodName] = v.Pod.Name
		vc[keyPodNamespace] = v.Pod.Namespace
		vc[keyPodUID] = string(v.Pod.UID)
		vc[keyServiceAccount] = v.Pod.Spec.ServiceAccountName
		vc[keyEphemeral] = strconv.FormatBool(true)
	}
	secrets := map[string]string{}
	if len(drv.Spec.TokenRequests) > 0 {
		tokens, err := k.tokens(ctx, v.Pod, drv)
		if err != nil {
			return err
		}
		if drv.Spec.ServiceAccountTokenInSecrets != nil && *drv.Spec.ServiceAccountTokenInSecrets {
			secrets[keyServiceAccToken] = tokens
		} else {
			vc[keyServiceAccToken] = tokens
		}
	}
	// kubelet creates the volume's directory; the driver makes the mount
	// point inside it.
	if err := os.MkdirAll(filepath.Dir(v.TargetPath), 0o750); err != nil {
		return err
	}
	readOnly := src.ReadOnly != nil && *src.ReadOnly
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	_, err = k.node.NodePublishVolume(cctx, &csi.NodePublishVolumeRequest{
		VolumeId:   v.VolumeID,
		TargetPath: v.TargetPath,
		Readonly:   readOnly,
		VolumeCapability: &csi.VolumeCapability{
			AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY},
		},
		VolumeContext: vc,
		Secrets:       secrets,
	})
	return err
}

// tokens requests one token per audience of the CSIDriver's tokenRequests,
// bound to the pod, and encodes them as kubelet does:
// {"<audience>": {"token": ..., "expirationTimestamp": ...}}.
func (k *Kubelet) tokens(ctx context.Context, pod *corev1.Pod, drv *storagev1.CSIDriver) (string, error) {
	out := map[string]authenticationv1.TokenRequestStatus{}
	for _, tr := range drv.Spec.TokenRequests {
		exp := int64(3600)
		if tr.ExpirationSeconds != nil {
			exp = *tr.ExpirationSeconds
		}
		var auds []string
		if tr.Audience != "" {
			auds = []string{tr.Audience}
		}
		resp, err := k.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
				Audiences:         auds,
				ExpirationSeconds: &exp,
				BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
			}}, metav1.CreateOptions{})
		if err != nil {
			return "", fmt.Errorf("token for %s/%s audience %q: %w", pod.Namespace, pod.Spec.ServiceAccountName, tr.Audience, err)
		}
		out[tr.Audience] = resp.Status
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// Unpublish calls NodeUnpublishVolume and removes the volume's directory, as
// kubelet does when the pod goes away.
func (k *Kubelet) Unpublish(ctx context.Context, v *Volume) error {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := k.node.NodeUnpublishVolume(cctx, &csi.NodeUnpublishVolumeRequest{
		VolumeId:   v.VolumeID,
		TargetPath: v.TargetPath,
	}); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Dir(v.TargetPath))
}

// ReadFile reads a file of the mounted volume.
func (v *Volume) ReadFile(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(v.TargetPath, name))
	return string(b), err
}

// Mode is the permission of a file as the writer set it: through the
// ..data link, since the visible name is a symlink.
func (v *Volume) Mode(name string) (os.FileMode, error) {
	fi, err := os.Stat(filepath.Join(v.TargetPath, "..data", name))
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}

// Files lists the visible names in the mount, without the writer's
// "..data" and timestamped directories.
func (v *Volume) Files() ([]string, error) {
	entries, err := os.ReadDir(v.TargetPath)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if len(e.Name()) >= 2 && e.Name()[:2] == ".." {
			continue
		}
		out = append(out, e.Name())
	}
	return out, nil
}
