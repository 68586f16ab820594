//go:build e2e

package scenarios

import (
	"fmt"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

// TestFailover: the primary region fails with 5xx (through the fault proxy,
// which reads the region from each request's SigV4 scope) and the value
// comes from the failover region; a client fault in the primary fails the
// mount with a message naming the cause instead of failing over.
func TestFailover(t *testing.T) {
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	if env.aws != nil {
		t.Cleanup(env.aws.ClearFaults)
	}

	class := func(t *testing.T, name, secret string) {
		createSecret(t, primaryRegion, secret, "from-"+primaryRegion)
		createSecret(t, failoverRegion, secret, "from-"+failoverRegion)
		createSPC(t, ns, spc{Name: name, Parameters: map[string]string{
			"region":         primaryRegion,
			"failoverRegion": failoverRegion,
			"objects":        fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n  objectAlias: value\n", secret),
		}})
	}

	t.Run("both regions up: the primary's value", func(t *testing.T) {
		class(t, "healthy", ns+"-healthy")
		p := mounted(t, ns, sa, "healthy")
		p.wantFile(t, "value", "from-"+primaryRegion)
	})

	t.Run("primary answers 5xx: the failover region's value", func(t *testing.T) {
		localOnly(t, "the AWS fault proxy")
		class(t, "primary-down", ns+"-primary-down")
		env.aws.SetFault(primaryRegion, "secretsmanager", cluster.ServerFault)
		defer env.aws.SetFault(primaryRegion, "secretsmanager", cluster.NoFault)
		primaryBefore := env.aws.Calls(primaryRegion, "secretsmanager")
		before := env.aws.Calls(failoverRegion, "secretsmanager")
		p := mounted(t, ns, sa, "primary-down")
		p.wantFile(t, "value", "from-"+failoverRegion)
		if env.aws.Calls(primaryRegion, "secretsmanager") == primaryBefore {
			t.Errorf("the primary region %s was never asked", primaryRegion)
		}
		if env.aws.Calls(failoverRegion, "secretsmanager") == before {
			t.Errorf("no Secrets Manager call reached %s", failoverRegion)
		}
	})

	t.Run("client fault in the primary fails the mount and says why", func(t *testing.T) {
		localOnly(t, "the AWS fault proxy")
		class(t, "primary-denied", ns+"-primary-denied")
		env.aws.SetFault(primaryRegion, "secretsmanager", cluster.ClientFault)
		defer env.aws.SetFault(primaryRegion, "secretsmanager", cluster.NoFault)
		p := newPod(t, env.kubelet, ns, sa, "primary-denied")
		err := p.publish(t)
		wantError(t, err, ns+"-primary-denied", primaryRegion, "AccessDenied")
		p.wantNothingMounted(t)
	})
}
