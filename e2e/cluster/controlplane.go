//go:build e2e

package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Audiences the apiserver accepts besides its own: IRSA's and EKS Pod
// Identity's.
var Audiences = []string{"sts.amazonaws.com", "pods.eks.amazonaws.com"}

// BinDir is where e2e/tools/build.sh leaves the binaries: $E2E_BIN_DIR, else
// the user cache dir.
func BinDir() string {
	if d := os.Getenv("E2E_BIN_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "csi-provider-aws-e2e", "bin")
}

// Binary returns the path of a built binary, or an error that says how to
// build it.
func Binary(name string) (string, error) {
	p := filepath.Join(BinDir(), name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return p, nil
	}
	if name == "etcd" {
		if p, err := exec.LookPath("etcd"); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s: run e2e/tools/build.sh first", name, BinDir())
}

// ControlPlane is etcd + kube-apiserver + kube-controller-manager on
// loopback, with an admin client.
type ControlPlane struct {
	PKI            *PKI
	URL            string
	KubeconfigPath string // admin
	Config         *rest.Config
	Client         kubernetes.Interface
	Dynamic        dynamic.Interface

	Etcd, APIServer, ControllerManager *Process

	ws      *Workspace
	etcdURL string
}

// StartControlPlane starts etcd, kube-apiserver and kube-controller-manager
// in ws and waits until the apiserver is ready and the controllers have
// created the default ServiceAccount.
func StartControlPlane(ctx context.Context, ws *Workspace) (*ControlPlane, error) {
	etcdBin, err := Binary("etcd")
	if err != nil {
		return nil, err
	}
	apiserverBin, err := Binary("kube-apiserver")
	if err != nil {
		return nil, err
	}
	kcmBin, err := Binary("kube-controller-manager")
	if err != nil {
		return nil, err
	}
	pki, err := NewPKI(ws.Path("pki"))
	if err != nil {
		return nil, fmt.Errorf("PKI: %w", err)
	}
	cp := &ControlPlane{PKI: pki, ws: ws}

	if err := cp.startEtcd(ctx, etcdBin); err != nil {
		return nil, err
	}
	if err := cp.startAPIServer(ctx, apiserverBin); err != nil {
		return nil, err
	}
	if err := cp.startControllerManager(ctx, kcmBin); err != nil {
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) startEtcd(ctx context.Context, bin string) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	p, err := cp.ws.Start(ProcSpec{Name: "etcd", Path: bin, Args: []string{
		"--name=e2e",
		"--data-dir=" + cp.ws.Path("etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=e2e=" + peer,
		fmt.Sprintf("--listen-metrics-urls=http://127.0.0.1:%d", ports[2]),
		"--log-level=warn",
	}})
	if err != nil {
		return err
	}
	cp.Etcd = p
	hc := &http.Client{Timeout: 2 * time.Second}
	if err := waitReady(ctx, p, 30*time.Second, func() error {
		return get(hc, client+"/health", "")
	}); err != nil {
		return err
	}
	cp.etcdURL = client
	return nil
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, bin string) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	pki := cp.PKI
	p, err := cp.ws.Start(ProcSpec{Name: "kube-apiserver", Path: bin, Args: []string{
		"--etcd-servers=" + cp.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + pki.ServingCert,
		"--tls-private-key-file=" + pki.ServingKey,
		"--client-ca-file=" + pki.CAFile,
		"--token-auth-file=" + pki.TokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + pki.SAPub,
		"--service-account-signing-key-file=" + pki.SAKey,
		"--api-audiences=" + strings.Join(append([]string{"https://kubernetes.default.svc"}, Audiences...), ","),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--cert-dir=" + cp.ws.Path("apiserver-certs"),
		// A loopback advertise address is refused by the endpoint
		// reconciler; there are no Services to reach anyway.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}})
	if err != nil {
		return err
	}
	cp.APIServer = p
	cp.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	cp.Config = &rest.Config{
		Host:            cp.URL,
		BearerToken:     pki.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAFile: pki.CAFile},
		QPS:             100,
		Burst:           200,
		// The apiserver warns on every CSIDriver without
		// serviceAccountTokenInSecrets, which some tests mean to send.
		WarningHandler: rest.NoWarnings{},
	}
	hc, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		return err
	}
	hc.Timeout = 3 * time.Second
	if err := waitReady(ctx, p, 90*time.Second, func() error {
		return get(hc, cp.URL+"/readyz", "")
	}); err != nil {
		return err
	}
	if cp.Client, err = kubernetes.NewForConfig(cp.Config); err != nil {
		return err
	}
	if cp.Dynamic, err = dynamic.NewForConfig(cp.Config); err != nil {
		return err
	}
	cp.KubeconfigPath = cp.ws.Path("kubeconfig-admin")
	return cp.WriteKubeconfig(cp.KubeconfigPath, pki.AdminToken)
}

func (cp *ControlPlane) startControllerManager(ctx context.Context, bin string) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	kc := cp.KubeconfigPath
	p, err := cp.ws.Start(ProcSpec{Name: "kube-controller-manager", Path: bin, Args: []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + cp.ws.Path("kcm-certs"),
		"--service-account-private-key-file=" + cp.PKI.SAKey,
		"--root-ca-file=" + cp.PKI.CAFile,
		"--leader-elect=false",
		// No kubelet ever reports on the test's Node, so the node lifecycle
		// controller would taint it and evict the pods after five minutes.
		"--controllers=*,-node-lifecycle-controller",
	}})
	if err != nil {
		return err
	}
	cp.ControllerManager = p
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// Its serving certificate is self-signed in --cert-dir.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	healthz := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	return waitReady(ctx, p, 60*time.Second, func() error {
		if err := get(hc, healthz, ""); err != nil {
			return err
		}
		// The ServiceAccount controller creating "default" shows the
		// controllers are really running.
		_, err := cp.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// WriteKubeconfig writes a kubeconfig for the apiserver with token.
func (cp *ControlPlane) WriteKubeconfig(path, token string) error {
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %q
    certificate-authority: %q
users:
- name: user
  user:
    token: %q
contexts:
- name: e2e
  context: {cluster: e2e, user: user}
current-context: e2e
`, cp.URL, cp.PKI.CAFile, token)
	return os.WriteFile(path, []byte(kc), 0o600)
}

// ServiceAccountToken returns a token for namespace/name with the
// apiserver's own audience, for a component that acts as that account.
func (cp *ControlPlane) ServiceAccountToken(ctx context.Context, namespace, name string, ttl time.Duration) (string, error) {
	secs := int64(ttl / time.Second)
	tr, err := cp.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// waitReady polls check until it succeeds, the process exits (its log tail
// is returned in the error) or timeout passes.
func waitReady(ctx context.Context, p *Process, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited while starting: %v\n%s", p.Name, p.Wait(), p.LogTail(30))
		}
		if last = check(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v\n%s", p.Name, timeout, last, p.LogTail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(hc *http.Client, url, bearer string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}
