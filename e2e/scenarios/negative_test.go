//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"testing"

	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

// TestMisconfigurationsSayWhatToFix: each common mistake fails
// NodePublishVolume with a message that names what to fix, and leaves
// nothing mounted.
func TestMisconfigurationsSayWhatToFix(t *testing.T) {
	ns := newNamespace(t)
	secret := ns + "-exists"
	createSecret(t, primaryRegion, secret, "value")
	objects := fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n", secret)

	t.Run("ServiceAccount without role annotation", func(t *testing.T) {
		newServiceAccount(t, ns, "no-role", nil)
		createSPC(t, ns, spc{Name: "no-role", Parameters: map[string]string{"region": primaryRegion, "objects": objects}})
		p := newPod(t, env.kubelet, ns, "no-role", "no-role")
		wantError(t, p.publish(t), ns+"/no-role", "eks.amazonaws.com/role-arn")
		p.wantNothingMounted(t)
	})

	t.Run("CSIDriver without tokenRequests", func(t *testing.T) {
		sa := irsaServiceAccount(t, ns)
		createSPC(t, ns, spc{Name: "no-tokens", Parameters: map[string]string{"region": primaryRegion, "objects": objects}})
		setCSIDriver(t, cluster.CSIDriverOptions{})
		p := newPod(t, env.kubelet, ns, sa, "no-tokens")
		wantError(t, p.publish(t), "sts.amazonaws.com", "tokenRequests")
		p.wantNothingMounted(t)
	})

	t.Run("SecretProviderClass in another namespace", func(t *testing.T) {
		other := newNamespace(t)
		createSPC(t, other, spc{Name: "elsewhere", Parameters: map[string]string{"region": primaryRegion, "objects": objects}})
		newServiceAccount(t, ns, "app-elsewhere", map[string]string{"eks.amazonaws.com/role-arn": roleARN(ns)})
		p := newPod(t, env.kubelet, ns, "app-elsewhere", "elsewhere")
		// The driver looks the class up in the pod's namespace.
		wantError(t, p.publish(t), "elsewhere", ns, "not found")
		p.wantNothingMounted(t)
	})

	t.Run("missing secret", func(t *testing.T) {
		newServiceAccount(t, ns, "app-missing", map[string]string{"eks.amazonaws.com/role-arn": roleARN(ns)})
		missing := ns + "-does-not-exist"
		createSPC(t, ns, spc{Name: "missing", Parameters: map[string]string{
			"region":  primaryRegion,
			"objects": fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n%s", missing, objects),
		}})
		p := newPod(t, env.kubelet, ns, "app-missing", "missing")
		wantError(t, p.publish(t), missing, primaryRegion, "ResourceNotFound")
		p.wantNothingMounted(t)
	})
}

// setCSIDriver replaces the CSIDriver object for the rest of the test and
// puts the one it replaced back afterwards (on the local backend the
// default; on kind the driver chart's).
func setCSIDriver(t *testing.T, o cluster.CSIDriverOptions) {
	t.Helper()
	ctx := testContext(t)
	saved, err := env.kube.StorageV1().CSIDrivers().Get(ctx, cluster.DriverName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("CSIDriver: %v", err)
	}
	if err := cluster.SetCSIDriver(ctx, env.kube, o); err != nil {
		t.Fatalf("CSIDriver: %v", err)
	}
	t.Cleanup(func() {
		restore := &storagev1.CSIDriver{
			ObjectMeta: metav1.ObjectMeta{Name: saved.Name, Labels: saved.Labels, Annotations: saved.Annotations},
			Spec:       saved.Spec,
		}
		if err := cluster.ReplaceCSIDriver(context.Background(), env.kube, restore); err != nil {
			t.Errorf("restoring the CSIDriver: %v", err)
		}
	})
}
