package kube

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

func TestClientDetectsWhatRBACAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		react     func(s *apiServer)
		informers [2]bool // ServiceAccounts, node
		denied    string  // what the log line names
		trialList bool
	}{
		{name: "an allowed SelfSubjectAccessReview starts the informers without a trial",
			react: func(*apiServer) {}, informers: [2]bool{true, true}},
		{name: "a denied review with a list and watch that work starts the informers",
			react: (*apiServer).denyReviews, informers: [2]bool{true, true}, trialList: true},
		{name: "a refused review and a 403 on list falls back to GETs for both",
			react: func(s *apiServer) {
				s.fail("create", "selfsubjectaccessreviews", apierrors.NewNotFound(schema.GroupResource{Resource: "selfsubjectaccessreviews"}, ""))
				s.forbid("list", "serviceaccounts")
				s.forbid("list", "nodes")
			},
			denied: "serviceaccounts and nodes", trialList: true},
		{name: "a 403 on watch alone falls back too",
			react: func(s *apiServer) {
				s.denyReviews()
				s.forbid("watch", "serviceaccounts")
			},
			denied: "serviceaccounts", informers: [2]bool{false, true}, trialList: true},
		{name: "nodes may be denied while ServiceAccounts are watched",
			react: func(s *apiServer) {
				s.denyReviews()
				s.forbid("list", "nodes")
			},
			denied: "nodes", informers: [2]bool{true, false}, trialList: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAPIServer(t, [3]string{"shop", "cart", roleCart})
			s.AddNode("node-1", map[string]string{RegionLabel: "eu-west-1"})
			tt.react(s)
			ctx, logs := logged(t)
			c := startClient(t, ctx, s, Options{NodeName: "node-1"})
			if got := [2]bool{c.saStore != nil, c.nodeStore != nil}; got != tt.informers {
				t.Errorf("informers (ServiceAccounts, node) = %v, want %v", got, tt.informers)
			}
			lines := logs.all()
			if len(lines) != 1 {
				t.Fatalf("start logged %d lines, want 1: %q", len(lines), lines)
			}
			if tt.denied != "" {
				for _, frag := range []string{"may not list and watch " + tt.denied, "get only", listWatchRule} {
					if !strings.Contains(lines[0], frag) {
						t.Errorf("log line %q does not say %q", lines[0], frag)
					}
				}
			}
			if trial := s.count("list", "serviceaccounts", "limit=1")+s.count("list", "nodes", "limit=1") > 0; trial != tt.trialList {
				t.Errorf("trial list made = %v, want %v", trial, tt.trialList)
			}
			// Whatever the mode, lookups answer.
			if got, err := c.RoleARN(ctx, "shop", "cart"); err != nil || got != roleCart {
				t.Errorf("RoleARN = %q, %v", got, err)
			}
			if got, err := c.nodeRegion(ctx, "node-1"); err != nil || got != "eu-west-1" {
				t.Errorf("nodeRegion = %q, %v", got, err)
			}
		})
	}
}

func TestClientStartFailures(t *testing.T) {
	t.Parallel()
	etcdDown := apierrors.NewInternalError(errors.New("etcd down"))
	tests := []struct {
		name  string
		react func(s *apiServer)
		kind  failure.Kind
		frag  string
	}{
		{name: "an API server that fails the trial list stops the start",
			react: func(s *apiServer) {
				s.denyReviews()
				s.fail("list", "serviceaccounts", etcdDown)
			},
			kind: failure.Unavailable, frag: "checking whether the daemon may list serviceaccounts"},
		{name: "informers that cannot sync stop the start within SyncTimeout and say why",
			react: func(s *apiServer) {
				s.fail("watch", "serviceaccounts", etcdDown)
				s.fail("list", "serviceaccounts", etcdDown)
			},
			kind: failure.Unavailable, frag: "did not sync within 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAPIServer(t)
			tt.react(s)
			ctx, _ := logged(t)
			began := time.Now()
			c, err := tryStart(t, ctx, s, Options{SyncTimeout: 300 * time.Millisecond})
			if c != nil {
				t.Errorf("a failed start returned a Client")
			}
			testkit.WantKind(t, err, tt.kind, tt.frag)
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("the start took %v", took)
			}
		})
	}
	t.Run("negative durations are refused", func(t *testing.T) {
		t.Parallel()
		s := newAPIServer(t)
		if _, err := tryStart(t, t.Context(), s, Options{FallbackTTL: -time.Second}); err == nil {
			t.Error("no error")
		}
	})
	t.Run("a kubeconfig that cannot be read names the flag", func(t *testing.T) {
		t.Parallel()
		_, err := Start(t.Context(), Options{Kubeconfig: t.TempDir() + "/missing", QPS: 1, Burst: 1})
		if err == nil || !strings.Contains(err.Error(), "--kubeconfig") {
			t.Errorf("err = %v, want one naming --kubeconfig", err)
		}
	})
}
