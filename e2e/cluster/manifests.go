//go:build e2e

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
)

// DriverName is the CSI driver name of the Secrets Store CSI Driver.
const DriverName = "secrets-store.csi.k8s.io"

// DriverModuleDir returns the module cache directory of the Secrets Store CSI
// Driver at version, resolved through the build wrapper in e2e/tools so the
// go.sum there vouches for it.
func DriverModuleDir(repoRoot, version string) (string, error) {
	wrapper := filepath.Join(repoRoot, "e2e", "tools", "driver-"+version)
	cmd := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/secrets-store-csi-driver@"+version)
	cmd.Dir = wrapper
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("go mod download in %s: %w\n%s%s", wrapper, err, out, ee.Stderr)
		}
		return "", fmt.Errorf("go mod download in %s: %w", wrapper, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", err
	}
	if m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", version, m.Error)
	}
	return m.Dir, nil
}

// DriverManifests lists the files of the driver module the suite applies:
// the CRDs and the driver's RBAC; v1.5.x also needs the RBAC of its own
// rotation reconciler (read Secrets, request tokens).
func DriverManifests(moduleDir, version string) []string {
	files := []string{
		"secrets-store.csi.x-k8s.io_secretproviderclasses.yaml",
		"secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml",
		"rbac-secretproviderclass.yaml",
		"rbac-secretprovidersyncing.yaml",
	}
	if version < "v1.6" {
		files = append(files, "rbac-secretproviderrotation.yaml", "rbac-secretprovidertokenrequest.yaml")
	}
	for i, f := range files {
		files[i] = filepath.Join(moduleDir, "deploy", f)
	}
	return files
}

// Apply creates or updates every object in the given YAML files, in order,
// and waits for CustomResourceDefinitions to be established.
func (cp *ControlPlane) Apply(ctx context.Context, files ...string) error {
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("%s: %w", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			objs = append(objs, &u)
		}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cp.Config)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		var m *meta.RESTMapping
		err := WaitFor(30*time.Second, 200*time.Millisecond, func() (bool, error) {
			var err error
			m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				mapper.Reset() // a CRD applied just before may not be discovered yet
				return false, err
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
		}
		if err := cp.createOrUpdate(ctx, m, u); err != nil {
			return err
		}
		if gvk.Kind == "CustomResourceDefinition" {
			if err := cp.waitEstablished(ctx, m.Resource, u.GetName()); err != nil {
				return err
			}
			mapper.Reset()
		}
	}
	return nil
}

func (cp *ControlPlane) createOrUpdate(ctx context.Context, m *meta.RESTMapping, u *unstructured.Unstructured) error {
	ri := cp.Dynamic.Resource(m.Resource)
	var r interface {
		Create(context.Context, *unstructured.Unstructured, metav1.CreateOptions, ...string) (*unstructured.Unstructured, error)
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
		Update(context.Context, *unstructured.Unstructured, metav1.UpdateOptions, ...string) (*unstructured.Unstructured, error)
	} = ri
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		r = ri.Namespace(ns)
	}
	_, err := r.Create(ctx, u, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("create %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		return nil
	}
	cur, err := r.Get(ctx, u.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	u.SetResourceVersion(cur.GetResourceVersion())
	if _, err := r.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

func (cp *ControlPlane) waitEstablished(ctx context.Context, gvr schema.GroupVersionResource, name string) error {
	return WaitFor(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		u, err := cp.Dynamic.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Established" && cm["status"] == "True" {
				return true, nil
			}
		}
		return false, fmt.Errorf("CRD %s not established", name)
	})
}

// CSIDriverOptions shape the CSIDriver object, which is what kubelet (here:
// package kubelet) reads to decide which tokens to send and where.
type CSIDriverOptions struct {
	// TokenAudiences become spec.tokenRequests; none means kubelet sends no
	// ServiceAccount token at all.
	TokenAudiences []string
	// TokensInSecrets sets spec.serviceAccountTokenInSecrets: kubelet puts
	// the tokens in NodePublishVolumeRequest.secrets, not the volume context.
	TokensInSecrets bool
}

// DefaultCSIDriver is the object the chart installs for this provider.
var DefaultCSIDriver = CSIDriverOptions{TokenAudiences: Audiences}

// SetCSIDriver creates or replaces the driver's CSIDriver object.
func (cp *ControlPlane) SetCSIDriver(ctx context.Context, o CSIDriverOptions) error {
	return SetCSIDriver(ctx, cp.Client, o)
}

// SetCSIDriver creates or replaces the driver's CSIDriver object through
// client, on any cluster.
func SetCSIDriver(ctx context.Context, client kubernetes.Interface, o CSIDriverOptions) error {
	return ReplaceCSIDriver(ctx, client, o.object())
}

func (o CSIDriverOptions) object() *storagev1.CSIDriver {
	want := &storagev1.CSIDriver{
		ObjectMeta: metav1.ObjectMeta{Name: DriverName},
		Spec: storagev1.CSIDriverSpec{
			AttachRequired:       ptr(false),
			PodInfoOnMount:       ptr(true),
			RequiresRepublish:    ptr(true),
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral},
		},
	}
	for _, a := range o.TokenAudiences {
		want.Spec.TokenRequests = append(want.Spec.TokenRequests, storagev1.TokenRequest{Audience: a})
	}
	if o.TokensInSecrets {
		want.Spec.ServiceAccountTokenInSecrets = ptr(true)
	}
	return want
}

// ReplaceCSIDriver creates want, or replaces the CSIDriver of its name.
func ReplaceCSIDriver(ctx context.Context, client kubernetes.Interface, want *storagev1.CSIDriver) error {
	want = want.DeepCopy()
	c := client.StorageV1().CSIDrivers()
	cur, err := c.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	want.ResourceVersion = cur.ResourceVersion
	if _, err = c.Update(ctx, want, metav1.UpdateOptions{}); err == nil {
		return nil
	}
	// Some fields are immutable in some versions: replace the object.
	if err := c.Delete(ctx, want.Name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	want.ResourceVersion = ""
	_, err = c.Create(ctx, want, metav1.CreateOptions{})
	return err
}

func ptr[T any](v T) *T { return &v }
