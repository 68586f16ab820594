//go:build e2e

package scenarios

import (
	"fmt"
	"testing"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TestSecretsManagerAndParameterStore is the driver's own aws.bats set: a
// Secrets Manager secret by name and by full ARN with an alias, an SSM
// SecureString, and an SSM parameter with a long name and an alias. The
// class names no region, so the node's region label decides it.
func TestSecretsManagerAndParameterStore(t *testing.T) {
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)

	byName := ns + "-SecretsManagerTest"
	createSecret(t, primaryRegion, byName, "SecretsManagerTest1Value")
	byARN := ns + "-SecretsManagerTest2"
	arn, _ := createSecret(t, primaryRegion, byARN, "SecretsManagerTest2Value")
	param := ns + "-ParameterStoreTest"
	putParameter(t, primaryRegion, param, "ParameterStoreTestValue", ssmtypes.ParameterTypeSecureString)
	longParam := "/" + ns + "/ParameterStoreTestWithLongName/a/very/long/path/that/goes/on/and/on/to/check/nothing/breaks"
	putParameter(t, primaryRegion, longParam, "ParameterStoreLongNameValue", ssmtypes.ParameterTypeString)

	createSPC(t, ns, spc{Name: "aws-secrets", Parameters: map[string]string{"objects": fmt.Sprintf(`
- objectName: %q
  objectType: secretsmanager
- objectName: %q
  objectAlias: SecretsManagerTest2File
- objectName: %q
  objectType: ssmparameter
- objectName: %q
  objectType: ssmparameter
  objectAlias: ParameterStoreTestWithLongName
`, byName, arn, param, longParam)}})

	p := mounted(t, ns, sa, "aws-secrets")

	t.Run("Secrets Manager by name", func(t *testing.T) {
		p.wantFile(t, byName, "SecretsManagerTest1Value")
		p.wantMode(t, byName, 0o644)
	})
	t.Run("Secrets Manager by full ARN with alias", func(t *testing.T) {
		p.wantFile(t, "SecretsManagerTest2File", "SecretsManagerTest2Value")
	})
	t.Run("SSM SecureString is decrypted", func(t *testing.T) {
		p.wantFile(t, param, "ParameterStoreTestValue")
	})
	t.Run("SSM long name with alias", func(t *testing.T) {
		p.wantFile(t, "ParameterStoreTestWithLongName", "ParameterStoreLongNameValue")
	})
	t.Run("nothing else is mounted", func(t *testing.T) {
		p.wantFiles(t, byName, "SecretsManagerTest2File", param, "ParameterStoreTestWithLongName")
	})
	t.Run("signed with the pod's STS credentials, never the daemon's", func(t *testing.T) {
		localOnly(t, "the AWS proxy that records each call's access key")
		for _, k := range env.aws.AccessKeys() {
			if k == "" || k == "AKIDSEED" {
				t.Errorf("an AWS call reached moto signed with %q", k)
			}
		}
	})
}
