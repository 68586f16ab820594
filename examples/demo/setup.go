package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
)

// startAWS is step 1.
func (d *demo) startAWS(ctx context.Context) (string, int64, error) {
	var err error
	if d.aws, err = startAWS(d.opts.aws); err != nil {
		return "", 0, err
	}
	secretV, paramV, err := d.aws.seed(ctx)
	if err != nil {
		return "", 0, err
	}
	if d.opts.prepareFake != nil && d.aws.fake != nil {
		d.opts.prepareFake(d.aws.fake)
	}
	d.printf("1. AWS: %s at %s\n", d.aws.name, d.aws.url)
	d.printf("     secret     %-20s Secrets Manager, JSON, version %s\n", secretName, secretV)
	d.printf("     parameter  %-20s SSM SecureString, version %d\n", parameterName, paramV)
	if d.aws.fake != nil {
		d.printf("     role       %s, trusting system:serviceaccount:%s:%s\n", roleARN, namespace, serviceAccount)
	} else {
		d.printf("     role       %s (moto lets any token assume it)\n", roleARN)
	}
	return secretV, paramV, nil
}

// startKube is step 2.
func (d *demo) startKube() (string, error) {
	d.kube = fakekube.New()
	if err := d.kube.Start(); err != nil {
		return "", err
	}
	d.kube.AddServiceAccount(namespace, serviceAccount, map[string]string{"eks.amazonaws.com/role-arn": roleARN})
	d.kube.AddNode(nodeName, map[string]string{"topology.kubernetes.io/region": region})
	d.kube.AddPod(namespace, podName, nodeName, serviceAccount)
	path, err := d.kube.Kubeconfig(d.dir)
	if err != nil {
		return "", err
	}
	d.printf("\n2. Kubernetes: emulators/fakekube at %s, kubeconfig %s\n", d.kube.URL(), d.short(path))
	d.printf("     %-24s eks.amazonaws.com/role-arn=%s\n", "ServiceAccount "+namespace+"/"+serviceAccount, roleARN)
	d.printf("     %-24s topology.kubernetes.io/region=%s\n", "Node "+nodeName, region)
	d.printf("     %-24s on %s, as %s\n", "Pod "+namespace+"/"+podName, nodeName, serviceAccount)
	return path, nil
}

// startDaemon is step 3: build, start, wait for the socket, ask Version.
func (d *demo) startDaemon(ctx context.Context, kubeconfig string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	began := time.Now()
	bin, err := buildDaemon(ctx, root, d.dir)
	if err != nil {
		return err
	}
	d.buildTook = time.Since(began)

	providers := filepath.Join(d.dir, "providers")
	args := []string{"--provider-volume", providers, "--kubeconfig", kubeconfig, "--node-name", nodeName,
		"--http-addr", "127.0.0.1:0", "-v=1"}
	if hasFlag(ctx, bin, "cache-ttl") {
		d.cacheTTLFlag = "--cache-ttl=" + d.opts.cacheTTL.String()
		args = append(args, d.cacheTTLFlag)
	}
	var stream io.Writer
	if d.opts.verbose {
		stream = d.errOut
	}
	if d.log, err = newLogSink(filepath.Join(d.dir, "daemon.log"), stream); err != nil {
		return err
	}
	began = time.Now()
	d.daemon, err = startDaemon(bin, args, daemonEnv(d.aws.url, d.dir), d.log, filepath.Join(providers, "aws.sock"))
	if err != nil {
		return err
	}
	if err := d.daemon.waitSocket(ctx, socketTimeout); err != nil {
		return err
	}
	socketAfter := time.Since(began)
	if d.conn, err = grpc.NewClient("unix://"+d.daemon.socket, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return err
	}
	d.client = v1alpha1.NewCSIDriverProviderClient(d.conn)
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := d.client.Version(vctx, &v1alpha1.VersionRequest{Version: "v1alpha1"})
	if err != nil {
		return fmt.Errorf("Version over %s: %w", d.daemon.socket, err)
	}

	d.printf("\n3. Daemon: go build %s in %s; started pid %d:\n", root, round(d.buildTook), d.daemon.pid())
	d.printf("     csi-provider-aws %s\n", d.short(strings.Join(args, " ")))
	d.printf("     env AWS_ENDPOINT_URL=%s AWS_EC2_METADATA_DISABLED=true; AWS_REGION unset, so the node's label decides the region\n", d.aws.url)
	if d.cacheTTLFlag != "" {
		d.printf("     %s: short, so that the rotation in step 5 lands within the demo\n", d.cacheTTLFlag)
	}
	d.printf("     socket %s up after %s; Version says %s %s (%s)\n", d.short(d.daemon.socket), round(socketAfter),
		v.GetRuntimeName(), v.GetRuntimeVersion(), v.GetVersion())
	return nil
}
