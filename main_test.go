package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

// TestMain lets the tests run this binary as the daemon itself.
func TestMain(m *testing.M) {
	if os.Getenv("CSI_PROVIDER_AWS_RUN_DAEMON") == "1" {
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv("CSI_PROVIDER_AWS_ARGS")), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"csi-provider-aws"}, args...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		var c Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c.bind(fs)
		return c
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"the defaults are valid", func(*Config) {}, ""},
		{"an empty provider volume is refused", func(c *Config) { c.ProviderVolume = "" }, "--provider-volume"},
		{"a zero qps is refused", func(c *Config) { c.QPS = 0 }, "--qps"},
		{"a negative burst is refused", func(c *Config) { c.Burst = -1 }, "--burst"},
		{"a pod identity endpoint that is not a URL is refused", func(c *Config) { c.PodIdentityIPv4 = "169.254.170.23" }, "--pod-identity-endpoint-ipv4"},
		{"an http address without a port is refused", func(c *Config) { c.HTTPAddr = "localhost" }, "--http-addr"},
		{"a negative cache TTL is refused", func(c *Config) { c.CacheTTL = -time.Second }, "--cache-ttl"},
		{"zero AWS attempts are refused", func(c *Config) { c.AWSMaxAttempts = 0 }, "--aws-max-attempts"},
		{"a pprof address off loopback is refused", func(c *Config) { c.PprofAddr = ":6060" }, "--pprof-addr"},
		{"a zero pod identity timeout is refused", func(c *Config) { c.PodIdentityHTTPTimeout = 0 }, "--pod-identity-http-timeout"},
		{"the json log format is accepted", func(c *Config) { c.LoggingFormat = "json" }, ""},
		{"a log format the daemon does not have is refused", func(c *Config) { c.LoggingFormat = "logfmt" }, "--logging-format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want it to name %s", err, tc.want)
			}
		})
	}
}

// daemonProcess runs this test binary as the daemon.
func daemonProcess(t *testing.T, args []string, env ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	encoded, _ := json.Marshal(args)
	cmd.Env = append(os.Environ(), append(env, "CSI_PROVIDER_AWS_RUN_DAEMON=1", "CSI_PROVIDER_AWS_ARGS="+string(encoded))...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, out
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStartRefusesToDeleteAFileThatIsNotASocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "aws.sock")
	if err := os.WriteFile(sock, []byte("operator data"), 0o600); err != nil {
		t.Fatal(err)
	}
	kube := fakekube.New()
	if err := kube.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kube.Close)
	kc, err := kube.Kubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := daemonProcess(t, []string{"--provider-volume", dir, "--kubeconfig", kc, "--http-addr", ""})
	err = cmd.Wait()
	if err == nil || !strings.Contains(out.String(), "is not a socket") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
	if b, _ := os.ReadFile(sock); string(b) != "operator data" {
		t.Error("the file at the socket path was changed")
	}
}

// TestSIGTERMFinishesInFlightMountsAndRemovesTheSocket: a Mount in flight
// when SIGTERM arrives still succeeds; then the socket is gone.
func TestSIGTERMFinishesInFlightMountsAndRemovesTheSocket(t *testing.T) {
	dir, aws, kc := standIns(t, "term-")
	aws.PutSecretString("us-west-2", "slow", "value")
	aws.Inject(fakeaws.Fault{Service: "secretsmanager", Delay: 1500 * time.Millisecond})
	cmd, out := daemonProcess(t, []string{"--provider-volume", dir, "--kubeconfig", kc, "--http-addr", "", "--node-name", "node-1"},
		"AWS_ENDPOINT_URL="+aws.URL(), "AWS_REGION=")
	sock := filepath.Join(dir, "aws.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, out)

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() {
		_, err := v1alpha1.NewCSIDriverProviderClient(conn).Mount(context.Background(), &v1alpha1.MountRequest{
			Attributes: attributes("team", "app"), Secrets: "{}", Permission: "420", TargetPath: dir})
		done <- err
	}()
	time.Sleep(500 * time.Millisecond) // the Mount is waiting on the slow fake
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("the in-flight Mount failed on SIGTERM: %v\n%s", err, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, out)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after SIGTERM: %v", err)
	}
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		t.Error("something still listens on the socket")
	}
}

func waitFor(t *testing.T, cond func() bool, out fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; daemon output:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func attributes(ns, sa string) string {
	return testkit.Mount{Namespace: ns, Pod: "p", UID: "uid-1", ServiceAccount: sa, Audiences: []string{"sts.amazonaws.com"},
		Params: map[string]string{"objects": "- {objectName: slow, objectType: secretsmanager}\n"}}.Attributes()
}

// standIns starts what a daemon process needs around it: a provider
// directory (short: unix socket names are limited), the fake AWS and a
// Kubernetes stand-in with the node and an annotated ServiceAccount; it
// returns the directory, the fake and the kubeconfig.
func standIns(t *testing.T, prefix string) (dir string, aws *fakeaws.Server, kubeconfig string) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	aws = fakeaws.New()
	if err := aws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(aws.Close)
	kube := fakekube.New()
	if err := kube.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kube.Close)
	kube.AddServiceAccount("team", "app", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/app"})
	kube.AddNode("node-1", map[string]string{"topology.kubernetes.io/region": "us-west-2"})
	if kubeconfig, err = kube.Kubeconfig(dir); err != nil {
		t.Fatal(err)
	}
	return dir, aws, kubeconfig
}
