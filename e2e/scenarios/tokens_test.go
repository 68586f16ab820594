//go:build e2e

package scenarios

import (
	"fmt"
	"slices"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

// TestTokensInRequestSecrets: with serviceAccountTokenInSecrets on the
// CSIDriver, kubelet puts the tokens in NodePublishVolumeRequest.secrets
// instead of the volume context; mounts work the same, and so does the
// default (tokens in the volume context), for IRSA and Pod Identity.
func TestTokensInRequestSecrets(t *testing.T) {
	localOnly(t, "the provider socket tap and the fake EKS Pod Identity agent")
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	newServiceAccount(t, ns, "pod-identity", nil)
	env.agent.Associate(ns, "pod-identity", roleARN(ns))
	secret := ns + "-tokens"
	createSecret(t, primaryRegion, secret, "token-delivery")
	objects := fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n  objectAlias: value\n", secret)
	createSPC(t, ns, spc{Name: "irsa", Parameters: map[string]string{"region": primaryRegion, "objects": objects}})
	createSPC(t, ns, spc{Name: "pod-identity", Parameters: map[string]string{"region": primaryRegion, "usePodIdentity": "true", "objects": objects}})

	for _, inSecrets := range []bool{false, true} {
		where := "volume context"
		if inSecrets {
			where = "request secrets"
		}
		t.Run("tokens in the "+where, func(t *testing.T) {
			setCSIDriver(t, cluster.CSIDriverOptions{TokenAudiences: cluster.Audiences, TokensInSecrets: inSecrets})
			for _, c := range []struct{ sa, class string }{{sa, "irsa"}, {"pod-identity", "pod-identity"}} {
				p := mounted(t, ns, c.sa, c.class)
				p.wantFile(t, "value", "token-delivery")
				ms := env.tap.Mounts(p.Vol.TargetPath)
				if len(ms) != 1 {
					t.Fatalf("Mount calls = %d, want 1", len(ms))
				}
				inSecretKeys := slices.Contains(ms[0].SecretKeys, "csi.storage.k8s.io/serviceAccount.tokens")
				if inSecretKeys != inSecrets {
					t.Errorf("%s: tokens in the Mount's secrets = %v, want %v (secret keys %v)", c.class, inSecretKeys, inSecrets, ms[0].SecretKeys)
				}
			}
		})
	}
}
