//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-provider-aws/csi-provider-aws/e2e/cluster"
)

// TestTokenRequestFallbackWithACSIDriverWithoutTokenRequests: a cluster
// whose CSIDriver has no tokenRequests (the reference's 3.x broke every
// mount there) mounts with a daemon run with --token-request-fallback and
// the one rule the chart adds for it; the real API server issues the
// pod-bound token.
func TestTokenRequestFallbackWithACSIDriverWithoutTokenRequests(t *testing.T) {
	grantTokenRequests(t)
	dir, _ := env.ws.Mkdir("providers-fallback")
	d, err := env.startDaemonWith(testContext(t), dir, "--token-request-fallback=true")
	if err != nil {
		t.Fatalf("starting the daemon: %v", err)
	}
	t.Cleanup(d.Stop)
	_, k := secondDriver(t, "v1.6.1", "e2e-node-fallback", dir)
	setCSIDriver(t, cluster.CSIDriverOptions{})

	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	secret := ns + "-fallback"
	createSecret(t, primaryRegion, secret, "no-token-requests")
	createSPC(t, ns, spc{Name: "fallback", Parameters: map[string]string{
		"region": primaryRegion, "objects": fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n  objectAlias: value\n", secret),
	}})
	p := newPod(t, k, ns, sa, "fallback")
	p.mustPublish(t)
	p.wantFile(t, "value", "no-token-requests")
}

// grantTokenRequests gives the daemon's ServiceAccount what the chart's
// tokenRequestFallback value adds: create on serviceaccounts/token.
func grantTokenRequests(t *testing.T) {
	t.Helper()
	ctx := testContext(t)
	const name = "csi-provider-aws-token-requests"
	c := env.cp.Client
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "csi-provider-aws", Namespace: "kube-system"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = c.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// TestAPrefixAndAPathThroughTheRealDriver: objectNamePrefix and objectPath
// mounted through the real driver; a secret created under the prefix
// appears on the next republish past the poll interval, and one deleted
// disappears; the parameters keep their tree translated into names.
func TestAPrefixAndAPathThroughTheRealDriver(t *testing.T) {
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	prefix, path := ns+"-set/", "/"+ns+"/config"
	createSecret(t, primaryRegion, prefix+"a", "A")
	createSecret(t, primaryRegion, prefix+"b", "B")
	createSecret(t, primaryRegion, ns+"-settings", "outside the prefix")
	putParameter(t, primaryRegion, path+"/timeout", "30", ssmtypes.ParameterTypeString)
	putParameter(t, primaryRegion, path+"/db/password", "p", ssmtypes.ParameterTypeSecureString)
	createSPC(t, ns, spc{Name: "sets", Parameters: map[string]string{"region": primaryRegion, "objects": fmt.Sprintf(`
- {objectNamePrefix: %q, objectType: secretsmanager}
- {objectPath: %q, objectType: ssmparameter}
`, prefix, path)}})

	p := mounted(t, ns, sa, "sets")
	p.wantFiles(t, "a", "b", "timeout", "db_password")
	p.wantFile(t, "a", "A")
	p.wantFile(t, "db_password", "p")

	createSecret(t, primaryRegion, prefix+"c", "C")
	if _, err := env.sm[primaryRegion].DeleteSecret(testContext(t), &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(prefix + "a"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatalf("moto DeleteSecret: %v", err)
	}
	p.waitPastPollInterval(t)
	p.mustPublish(t)
	p.wantFiles(t, "b", "c", "timeout", "db_password")
	p.wantFile(t, "c", "C")
}
