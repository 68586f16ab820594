package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakeaws"
	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
)

// env is one scenario's world: fake AWS, fake Kubernetes, the daemon.
type env struct {
	s        scenario
	aws      *fakeaws.Server
	kube     *fakekube.Server
	daemon   *exec.Cmd
	client   v1alpha1.CSIDriverProviderClient
	conn     *grpc.ClientConn
	dir      string
	params   string
	httpAddr string
	// startup is the Kubernetes calls made before the first Mount.
	startup map[string]int
}

// start seeds the fakes and starts the daemon.
func (e *env) start(bin string) error {
	var err error
	if e.dir, err = os.MkdirTemp("", "bench-"); err != nil {
		return err
	}
	e.aws = fakeaws.New()
	if err := e.aws.Start(); err != nil {
		return err
	}
	var objects strings.Builder
	for i := range e.s.secrets {
		name := fmt.Sprintf("secret-%02d", i)
		e.aws.PutSecretString(region, name, strings.Repeat(string(rune('a'+i%26)), 64))
		fmt.Fprintf(&objects, "- {objectName: %s, objectType: secretsmanager}\n", name)
	}
	params, _ := json.Marshal(map[string]string{"objects": objects.String(), "region": region})
	e.params = string(params)

	e.kube = fakekube.New()
	if err := e.kube.Start(); err != nil {
		return err
	}
	e.kube.AddNode(nodeName, map[string]string{"topology.kubernetes.io/region": region})
	for i := range e.s.serviceAccounts {
		e.kube.AddServiceAccount(namespace, sa(i), map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/bench"})
	}
	for p := range e.s.pods {
		e.kube.AddPod(namespace, podName(p), nodeName, sa(p%e.s.serviceAccounts))
	}
	kubeconfig, err := e.kube.Kubeconfig(e.dir)
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	providers := filepath.Join(e.dir, "providers")
	args := []string{"--provider-volume", providers, "--kubeconfig", kubeconfig, "--node-name", nodeName,
		"--http-addr", httpAddr, "--cache-ttl", e.s.cacheTTL.String()}
	if pp := os.Getenv("BENCH_PPROF_ADDR"); pp != "" {
		args = append(args, "--pprof-addr", pp)
	}
	e.daemon = exec.Command(bin, args...)
	e.daemon.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+e.aws.URL(), "AWS_EC2_METADATA_DISABLED=true")
	logf, err := os.Create(filepath.Join(e.dir, "daemon.log"))
	if err != nil {
		return err
	}
	e.daemon.Stdout, e.daemon.Stderr = logf, logf
	if err := e.daemon.Start(); err != nil {
		return err
	}
	sock := filepath.Join(providers, "aws.sock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon did not create %s; its log is %s", sock, logf.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.httpAddr = httpAddr
	e.conn, err = grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	e.client = v1alpha1.NewCSIDriverProviderClient(e.conn)
	// Start-up reads (informer lists and watches) are not per-Mount costs.
	time.Sleep(200 * time.Millisecond)
	if os.Getenv("BENCH_PAUSE") != "" {
		fmt.Fprintf(os.Stderr, "daemon pid %d ready; pausing %s\n", e.daemon.Process.Pid, os.Getenv("BENCH_PAUSE"))
		d, _ := time.ParseDuration(os.Getenv("BENCH_PAUSE"))
		time.Sleep(d)
	}
	e.startup = e.kube.Calls()
	e.aws.ResetCalls()
	e.kube.ResetCalls()
	return nil
}

func (e *env) close() {
	if e.conn != nil {
		e.conn.Close()
	}
	if e.daemon != nil && e.daemon.Process != nil {
		_ = e.daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- e.daemon.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = e.daemon.Process.Kill()
		}
	}
	if e.kube != nil {
		e.kube.Close()
	}
	if e.aws != nil {
		e.aws.Close()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
