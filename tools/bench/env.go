package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
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
	if err := e.startAWS(); err != nil {
		return err
	}
	kubeconfig, err := e.startKube()
	if err != nil {
		return err
	}
	sock, err := e.startDaemon(bin, kubeconfig)
	if err != nil {
		return err
	}
	e.conn, err = grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	e.client = v1alpha1.NewCSIDriverProviderClient(e.conn)
	e.settle()
	return nil
}

// startAWS starts the fake AWS holding the scenario's secrets and sets the
// class parameters that name them.
func (e *env) startAWS() error {
	e.aws = fakeaws.New()
	if err := e.aws.Start(); err != nil {
		return err
	}
	var objects strings.Builder
	for i := range e.s.secrets {
		name := e.s.secretName(i)
		e.aws.PutSecretString(region, name, strings.Repeat(string(rune('a'+i%26)), 64))
		if !e.s.prefix {
			fmt.Fprintf(&objects, "- {objectName: %s, objectType: secretsmanager}\n", name)
		}
	}
	if e.s.prefix {
		objects.WriteString("- {objectNamePrefix: set/, objectType: secretsmanager}\n")
	}
	params, _ := json.Marshal(map[string]string{"objects": objects.String(), "region": region})
	e.params = string(params)
	return nil
}

// startKube starts the fake Kubernetes holding the node, the
// ServiceAccounts and the pods, and writes its kubeconfig.
func (e *env) startKube() (kubeconfig string, err error) {
	e.kube = fakekube.New()
	if err := e.kube.Start(); err != nil {
		return "", err
	}
	e.kube.AddNode(nodeName, map[string]string{"topology.kubernetes.io/region": region})
	for i := range e.s.serviceAccounts {
		e.kube.AddServiceAccount(namespace, sa(i), map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/bench"})
	}
	for p := range e.s.pods {
		e.kube.AddPod(namespace, podName(p), nodeName, sa(p%e.s.serviceAccounts))
	}
	return e.kube.Kubeconfig(e.dir)
}

// settle waits out the daemon's start-up, keeps the Kubernetes calls it
// made and zeroes the counters.
func (e *env) settle() {
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
}

func (e *env) close() {
	if e.conn != nil {
		e.conn.Close()
	}
	if e.daemon != nil && e.daemon.Process != nil {
		e.stopDaemon()
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
