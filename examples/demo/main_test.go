package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
)

func TestDemoFailsAtTheStepThatBrokeAndStillCleansUp(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	o := options{aws: "fake", cacheTTL: time.Second, prepareFake: func(f *fakeaws.Server) {
		f.DenySecret(roleARN, secretName)
	}}
	err := runWith(context.Background(), o, &out, &errOut)
	if err == nil {
		t.Fatalf("the demo passed although the role may not read the secret:\n%s", out.String())
	}
	t.Logf("the user sees on stderr:\ndemo FAILED: %v\n%s", err, errOut.String())
	for _, w := range []string{"step 4, mount", "PermissionDenied", secretName} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if !strings.Contains(errOut.String(), "lines of the daemon's log") {
		t.Errorf("no daemon log tail on stderr:\n%s", errOut.String())
	}
	if strings.Contains(out.String(), "demo passed") {
		t.Error("the output says the demo passed")
	}
	checkNothingLeft(t, out.String(), false)
}

// checkNothingLeft asserts the daemon is gone and, unless kept, the temp
// dir too; it returns the temp dir.
func checkNothingLeft(t *testing.T, out string, kept bool) string {
	t.Helper()
	if m := regexp.MustCompile(`started pid (\d+)`).FindStringSubmatch(out); m == nil {
		t.Error("the output names no daemon pid")
	} else if pid, _ := strconv.Atoi(m[1]); !processGone(pid) {
		t.Errorf("daemon pid %d is still running after the demo", pid)
	}
	tmp := regexp.MustCompile(`(?m)^tmp=(\S+)$`).FindStringSubmatch(out)
	if tmp == nil {
		t.Fatal("the output names no temp dir")
	}
	if _, err := os.Stat(tmp[1]); !kept && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temp dir %s is still there (%v)", tmp[1], err)
	}
	return tmp[1]
}

func TestDemo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		needs   string   // a program the case needs on PATH
		wantErr string   // "" = the demo must pass
		want    []string // lines (substrings) the user must see
		// kept: --keep must leave the temp dir with these files.
		kept []string
	}{
		{
			name: "a run against the in-process fake mounts, rotates, stops cleanly and keeps nothing",
			args: []string{"--cache-ttl=1s"},
			want: []string{
				"db-password -> ..data/db-password", "0400  `correct-horse-1`",
				"db-password          `correct-horse-1` -> `correct-horse-2`",
				"sts:AssumeRoleWithWebIdentity 1",
				"7. Stop: SIGTERM -> exit status 0", "socket removed; temp dir removed", "demo passed",
			},
		},
		{
			name: "--keep leaves the pod's files and the daemon's log for inspection",
			args: []string{"--cache-ttl=0s", "--keep"},
			want: []string{"the next republish carried it", "demo passed"},
			kept: []string{"daemon.log", "pod/mount/db-password", "pod/mount/api-key", "kubeconfig"},
		},
		{
			name:  "a run against moto passes too, counting AWS calls from the daemon's metrics",
			args:  []string{"--aws=moto", "--cache-ttl=1s"},
			needs: "moto_server",
			want:  []string{"1. AWS: moto_server", "csi_provider_aws_api_calls_total", "`correct-horse-2`", "demo passed"},
		},
		{
			name:    "an unknown --aws backend is refused before anything starts",
			args:    []string{"--aws=localstack"},
			wantErr: `--aws must be fake or moto, got "localstack"`,
		},
		{
			name:    "a --cache-ttl the rotation wait cannot cover is refused",
			args:    []string{"--cache-ttl=2m"},
			wantErr: "--cache-ttl must be from 0s to 20s",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.needs != "" && os.Getenv("MOTO_URL") == "" && os.Getenv("MOTO_SERVER") == "" {
				if _, err := exec.LookPath(tc.needs); err != nil {
					if os.Getenv("CI") == "true" {
						t.Fatalf("%s not found; CI requires it", tc.needs)
					}
					t.Skipf("%s not found", tc.needs)
				}
			}
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("demo failed: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the output lacks %q:\n%s", w, out.String())
				}
			}
			tmp := checkNothingLeft(t, out.String(), len(tc.kept) > 0)
			if len(tc.kept) == 0 {
				return
			}
			t.Cleanup(func() { os.RemoveAll(tmp) })
			for _, f := range tc.kept {
				if _, err := os.Stat(filepath.Join(tmp, f)); err != nil {
					t.Errorf("--keep did not keep %s: %v", f, err)
				}
			}
		})
	}
}
