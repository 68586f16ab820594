package fakekube

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"
)

// Server is an in-process Kubernetes API stand-in. Its zero value is not
// usable; call New. All methods are safe for concurrent use.
type Server struct {
	mu sync.Mutex

	resources map[string]*resource
	rv        int64 // the last resourceVersion handed out
	uidSeq    int64
	history   []event // changes after compacted, oldest first
	compacted int64   // watches from before this resourceVersion get 410
	watchers  map[*watcher]struct{}

	calls         map[string]int
	denyListWatch bool

	srv       *http.Server
	url       string
	closing   chan struct{}
	closeOnce sync.Once
}

// New returns a server with no objects.
func New() *Server {
	return &Server{
		resources: newResources(),
		watchers:  map[*watcher]struct{}{},
		calls:     map[string]int{},
		closing:   make(chan struct{}),
	}
}

var _ http.Handler = (*Server)(nil)

// Start serves plain HTTP on a free port of 127.0.0.1 until Close.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("fakekube: already started")
	}
	srv, url, err := testkit.ServeLoopback(s)
	if err != nil {
		return fmt.Errorf("fakekube: %w", err)
	}
	s.srv, s.url = srv, url
	return nil
}

// URL is the server's base URL, for rest.Config.Host ("" before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close ends every watch stream and stops the server. Safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Kubeconfig writes <dir>/kubeconfig, a kubeconfig whose only context
// points at the server without credentials, and returns its path.
func (s *Server) Kubeconfig(dir string) (string, error) {
	u := s.URL()
	if u == "" {
		return "", errors.New("fakekube: Kubeconfig before Start: the server has no address yet")
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["fakekube"] = &clientcmdapi.Cluster{Server: u}
	cfg.AuthInfos["fakekube"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["fakekube"] = &clientcmdapi.Context{Cluster: "fakekube", AuthInfo: "fakekube", Namespace: "default"}
	cfg.CurrentContext = "fakekube"
	path := filepath.Join(dir, "kubeconfig")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("fakekube: %w", err)
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("fakekube: writing %s: %w", path, err)
	}
	return path, nil
}

// Calls counts the requests received. Resource requests are keyed by verb
// and resource ("get serviceaccounts", "list nodes", "watch
// serviceaccounts", "create selfsubjectaccessreviews", "create pods"),
// everything else by verb and path ("get /version", "get /apis/apps/v1").
// Refused requests count too.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// ResetCalls zeroes Calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// DenyListWatch makes every list and watch fail with 403 Forbidden, as the
// reference provider's RBAC (get only) would; get keeps working. Watches
// already open are not ended.
func (s *Server) DenyListWatch(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyListWatch = deny
}

func (s *Server) count(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[k]++
}
