package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

// TestValidateIsASubcommandOfTheDaemonBinary runs the binary as users do:
// `csi-provider-aws validate ...` checks manifests and exits with its code;
// without the subcommand the binary is the daemon, with its flags.
func TestValidateIsASubcommandOfTheDaemonBinary(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the examples are valid", []string{"validate", "-f", "examples/"}, 0, fmt.Sprintf("%d SecretProviderClass(es) of provider aws checked", testkit.ExampleClasses(t, "examples"))},
		{"a bad class exits 1 naming the field", []string{"validate", "-f", "validate/testdata/bad/object-type.yaml"}, 1, `objects[0] "db": objectType "secretmanager" is unknown`},
		{"no manifest named exits 2", []string{"validate"}, 2, "name the manifests with -f"},
		{"without the subcommand the daemon refuses a bad daemon flag", []string{"--qps", "0"}, 1, "--qps must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd, out := daemonProcess(t, tc.args)
			err := cmd.Wait()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			}
			if code != tc.code || !strings.Contains(out.String(), tc.want) {
				t.Errorf("exit %d, want %d and %q in:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}
