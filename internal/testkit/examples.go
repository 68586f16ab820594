package testkit

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ExampleClasses counts the SecretProviderClass documents in the YAML files
// under dir, so tests of `validate -f examples/` follow the examples as
// they grow instead of a number written down once.
func ExampleClasses(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || filepath.Ext(p) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) == "kind: SecretProviderClass" {
				n++
			}
		}
		return err
	})
	if err != nil || n == 0 {
		t.Fatalf("counting the classes under %s: %v (%d found)", dir, err, n)
	}
	return n
}
