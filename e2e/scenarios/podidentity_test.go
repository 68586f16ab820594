//go:build e2e

package scenarios

import (
	"fmt"
	"testing"
)

// TestPodIdentity: usePodIdentity sends the pod's token for audience
// pods.eks.amazonaws.com to the agent (ours checks it with a TokenReview for
// that audience), and the secret is read with the credentials it returns.
func TestPodIdentity(t *testing.T) {
	localOnly(t, "the fake EKS Pod Identity agent")
	ns := newNamespace(t)
	secret := ns + "-pod-identity"
	createSecret(t, primaryRegion, secret, "via-pod-identity")
	objects := fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n", secret)

	t.Run("an associated ServiceAccount gets its secret", func(t *testing.T) {
		// No role annotation: Pod Identity associations live in EKS, not on
		// the ServiceAccount.
		newServiceAccount(t, ns, "associated", nil)
		env.agent.Associate(ns, "associated", roleARN(ns))
		createSPC(t, ns, spc{Name: "pod-identity", Parameters: map[string]string{
			"region": primaryRegion, "usePodIdentity": "true", "preferredAddressType": "ipv4", "objects": objects,
		}})
		before := env.agent.Served()
		p := mounted(t, ns, "associated", "pod-identity")
		p.wantFile(t, secret, "via-pod-identity")
		if env.agent.Served() == before {
			t.Errorf("the Pod Identity agent handed out no credentials; refused: %v", env.agent.Refused())
		}
		key := env.agent.AccessKeyFor(ns, "associated")
		if key == "" || env.aws.SignedWith(key) == 0 {
			t.Errorf("no AWS call was signed with the agent's credentials (%q)", key)
		}
	})

	t.Run("a ServiceAccount without association fails with the agent's reason", func(t *testing.T) {
		newServiceAccount(t, ns, "unassociated", nil)
		createSPC(t, ns, spc{Name: "pod-identity-unassociated", Parameters: map[string]string{
			"region": primaryRegion, "usePodIdentity": "true", "objects": objects,
		}})
		p := newPod(t, env.kubelet, ns, "unassociated", "pod-identity-unassociated")
		wantError(t, p.publish(t), "Pod Identity", ns+"/unassociated")
		p.wantNothingMounted(t)
	})
}
