//go:build e2e

package scenarios

import (
	"fmt"
	"testing"
)

// TestJMESPathModesTranslationAndPreviousVersion: jmesPath files with their
// own modes next to the whole JSON value, pathTranslation, and
// objectVersionLabel AWSPREVIOUS next to the current value.
func TestJMESPathModesTranslationAndPreviousVersion(t *testing.T) {
	ns := newNamespace(t)
	sa := irsaServiceAccount(t, ns)

	jsonSecret := ns + "/app/db"
	createSecret(t, primaryRegion, jsonSecret, `{"username":"admin","password":"p@ss","port":"5432"}`)
	rotated := ns + "-rotated"
	createSecret(t, primaryRegion, rotated, "old-value")
	putSecretValue(t, primaryRegion, rotated, "new-value")

	t.Run("jmesPath, modes, previous version, pathTranslation", func(t *testing.T) {
		createSPC(t, ns, spc{Name: "transforms", Parameters: map[string]string{
			"region":          primaryRegion,
			"pathTranslation": "-",
			"objects": fmt.Sprintf(`
- objectName: %q
  objectType: secretsmanager
  filePermission: "0600"
  jmesPath:
  - path: username
    objectAlias: dbuser
    filePermission: "0440"
  - path: password
    objectAlias: dbpass
- objectName: %q
  objectType: secretsmanager
  objectAlias: current
- objectName: %q
  objectType: secretsmanager
  objectVersionLabel: AWSPREVIOUS
  objectAlias: previous
`, jsonSecret, rotated, rotated)}})
		p := mounted(t, ns, sa, "transforms")

		translated := ns + "-app-db" // "/" -> "-"
		p.wantFiles(t, translated, "dbuser", "dbpass", "current", "previous")
		p.wantFile(t, translated, `{"username":"admin","password":"p@ss","port":"5432"}`)
		p.wantMode(t, translated, 0o600)
		p.wantFile(t, "dbuser", "admin")
		p.wantMode(t, "dbuser", 0o440)
		p.wantFile(t, "dbpass", "p@ss")
		p.wantMode(t, "dbpass", 0o600) // the object's filePermission
		p.wantFile(t, "current", "new-value")
		p.wantFile(t, "previous", "old-value")
		p.wantMode(t, "current", 0o644) // the driver's default
	})

	t.Run("default translation is underscore", func(t *testing.T) {
		createSPC(t, ns, spc{Name: "default-translation", Parameters: map[string]string{
			"region":  primaryRegion,
			"objects": fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n", jsonSecret),
		}})
		p := mounted(t, ns, sa, "default-translation")
		p.wantFiles(t, ns+"_app_db")
	})

	t.Run("translation off makes sub-directories", func(t *testing.T) {
		createSPC(t, ns, spc{Name: "no-translation", Parameters: map[string]string{
			"region":          primaryRegion,
			"pathTranslation": "False",
			"objects":         fmt.Sprintf("- objectName: %q\n  objectType: secretsmanager\n", jsonSecret),
		}})
		p := mounted(t, ns, sa, "no-translation")
		p.wantFile(t, ns+"/app/db", `{"username":"admin","password":"p@ss","port":"5432"}`)
	})
}
