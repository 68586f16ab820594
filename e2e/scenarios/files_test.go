//go:build e2e

package scenarios

import (
	"encoding/base64"
	"fmt"
	"testing"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TestJSONKeysEncodingsAndOptionalObjects: issue 9 through the real
// driver. A JSON secret's keys become files beside jmesPath results of any
// JSON type; a base64 keystore lands as its bytes; a missing optional
// secret and parameter are left out and the Mount succeeds; a rotation
// that adds a key (and drops one) changes the files on the next
// republish, and so does the optional secret once it exists. A class
// whose only object is optional and missing still mounts.
func TestJSONKeysEncodingsAndOptionalObjects(t *testing.T) {
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)
	db, ks, later, param := ns+"-db", ns+"-keystore", ns+"-later", ns+"-later-param"
	createSecret(t, primaryRegion, db, `{"username":"admin","port":5432,"tls":true,"opts":{"b":1,"a":[1,"x"]}}`)
	keystore := []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0xff, 0x00}
	createSecret(t, primaryRegion, ks, base64.StdEncoding.EncodeToString(keystore))
	createSPC(t, ns, spc{Name: "issue-9", Parameters: map[string]string{"region": primaryRegion, "objects": fmt.Sprintf(`
- objectName: %q
  objectType: secretsmanager
  objectAlias: db.json
  filePermission: "0440"
  jsonKeysAsFiles: true
  jmesPath:
    - {path: port, objectAlias: db-port}
    - {path: opts, objectAlias: db-opts, filePermission: "0400"}
- {objectName: %q, objectType: secretsmanager, objectAlias: keystore.jks, objectEncoding: base64}
- {objectName: %q, objectType: secretsmanager, objectAlias: later, optional: true}
- {objectName: %q, objectType: ssmparameter, objectAlias: later-param, optional: "true"}
`, db, ks, later, param)}})
	missingBefore := daemonMetric(t, "csi_provider_aws_optional_objects_missing_total")

	p := mounted(t, ns, sa, "issue-9")
	p.wantFiles(t, "db.json", "db-port", "db-opts", "keystore.jks", "username", "port", "tls", "opts")
	p.wantFile(t, "username", "admin")
	p.wantFile(t, "port", "5432")
	p.wantFile(t, "tls", "true")
	p.wantFile(t, "opts", `{"a":[1,"x"],"b":1}`)
	p.wantFile(t, "db-port", "5432")
	p.wantFile(t, "db-opts", `{"a":[1,"x"],"b":1}`)
	p.wantMode(t, "username", 0o440)
	p.wantMode(t, "db-opts", 0o400)
	p.wantFile(t, "keystore.jks", string(keystore))
	if d := daemonMetric(t, "csi_provider_aws_optional_objects_missing_total") - missingBefore; d != 2 {
		t.Errorf("the daemon counted %v optional objects missing, want 2", d)
	}

	t.Run("a rotation that adds a key and drops one changes the files on the next republish", func(t *testing.T) {
		putSecretValue(t, primaryRegion, db, `{"username":"admin","port":5433,"password":"p@ss","opts":{"b":1,"a":[1,"x"]}}`)
		p.waitPastPollInterval(t)
		p.mustPublish(t)
		p.wantFiles(t, "db.json", "db-port", "db-opts", "keystore.jks", "username", "port", "password", "opts")
		p.wantFile(t, "password", "p@ss")
		p.wantFile(t, "port", "5433")
	})

	t.Run("an optional object created later is mounted on the next republish", func(t *testing.T) {
		createSecret(t, primaryRegion, later, "arrived")
		putParameter(t, primaryRegion, param, "arrived-too", ssmtypes.ParameterTypeString)
		p.waitPastPollInterval(t)
		p.mustPublish(t)
		p.wantFile(t, "later", "arrived")
		p.wantFile(t, "later-param", "arrived-too")
	})

	t.Run("a class whose only object is optional and missing mounts", func(t *testing.T) {
		createSPC(t, ns, spc{Name: "all-missing", Parameters: map[string]string{"region": primaryRegion,
			"objects": fmt.Sprintf("- {objectName: %q, objectType: secretsmanager, optional: true}\n", ns+"-never")}})
		q := mounted(t, ns, sa, "all-missing")
		q.wantFiles(t)
	})
}
