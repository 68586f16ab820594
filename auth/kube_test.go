package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/internal/testkit"

	"github.com/csi-provider-aws/csi-provider-aws/emulators/fakekube"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/kube"
)

// These tests run auth over the daemon's own Roles, package kube, reading
// fakekube over HTTP as it reads the API server: what auth promises about
// Kubernetes calls and role changes holds with the real reader, not only
// with fakeRoles.

// startKube serves these ServiceAccounts and node-1 in us-west-2 from
// fakekube and starts package kube's Client on it as main.go does (a
// kubeconfig, NODE_NAME nodeName); both stop with the test.
func startKube(t *testing.T, ctx context.Context, nodeName string, sas ...sa) (*fakekube.Server, *kube.Client) {
	t.Helper()
	s := fakekube.New()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	for _, sa := range sas {
		var ann map[string]string
		if sa.role != "" {
			ann = map[string]string{kube.RoleARNAnnotation: sa.role}
		}
		s.AddServiceAccount(sa.namespace, sa.name, ann)
	}
	s.AddNode("node-1", map[string]string{kube.RegionLabel: "us-west-2"})
	kc, err := s.Kubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.Start(ctx, kube.Options{Kubeconfig: kc, QPS: 1000, Burst: 1000, NodeName: nodeName})
	if err != nil {
		t.Fatalf("kube.Start: %v", err)
	}
	return s, c
}

func TestMountsCostNoKubernetesCall(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, k := startKube(t, ctx, "node-1", serviceAccount("shop", "cart", roleCart))
	f := newFixture(t)
	creds := newCreds(k, NewIRSA(f.sts.forRegion, IRSAOptions{}), nil, f.clock.Now)
	regions := kube.NewRegions(k, "", "node-1")
	s.ResetCalls()
	const mounts = 1000
	for i := 0; i < mounts; i++ {
		region, err := regions.Region(ctx, "", "shop", fmt.Sprintf("cart-%d", i%50))
		if err != nil {
			t.Fatal(err)
		}
		req := testReq(t, "shop", "cart", fmt.Sprintf("cart-%d", i%50))
		req.Region = region
		if _, _, err := creds.Resolve(ctx, req.mount()); err != nil {
			t.Fatal(err)
		}
	}
	if calls := s.Calls(); len(calls) != 0 {
		t.Errorf("%d Mounts made Kubernetes API calls %v, want none", mounts, calls)
	}
	if n := f.sts.count(); n != 1 {
		t.Errorf("%d Mounts made %d STS calls, want 1", mounts, n)
	}
}

func TestARoleAnnotationChangeIsSeenFromTheWatch(t *testing.T) {
	t.Parallel()
	const roleNew = "arn:aws:iam::123456789012:role/cart-v2"
	ctx := t.Context()
	s, k := startKube(t, ctx, "node-1", serviceAccount("shop", "cart", roleCart))
	f := newFixture(t)
	creds := newCreds(k, NewIRSA(f.sts.forRegion, IRSAOptions{}), nil, f.clock.Now)
	req := testReq(t, "shop", "cart", "cart-1")
	idOld, pOld, err := creds.Resolve(ctx, req.mount())
	if err != nil || idOld.RoleARN != roleCart {
		t.Fatalf("Resolve = %+v, %v", idOld, err)
	}
	credsOld, _ := pOld.Retrieve(ctx)

	if err := s.UpdateServiceAccount("shop", "cart", map[string]string{kube.RoleARNAnnotation: roleNew}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new role annotation to be seen", func() bool {
		got, err := k.RoleARN(ctx, "shop", "cart")
		return err == nil && got == roleNew
	})
	if n := s.Calls()["get serviceaccounts"]; n != 0 {
		t.Errorf("the change took %d GETs, want it from the watch alone", n)
	}
	idNew, pNew, err := creds.Resolve(ctx, req.mount())
	if err != nil {
		t.Fatal(err)
	}
	credsNew, _ := pNew.Retrieve(ctx)
	if idNew.RoleARN != roleNew || idNew.Key() == idOld.Key() {
		t.Errorf("after the change: role %s, key %q (before %q)", idNew.RoleARN, idNew.Key(), idOld.Key())
	}
	if credsNew.AccessKeyID == credsOld.AccessKeyID {
		t.Errorf("the old role's credentials %s were served after the change", credsOld.AccessKeyID)
	}
	if n, last := f.sts.count(), f.sts.last(); n != 2 || last.roleARN != roleNew {
		t.Errorf("STS calls = %d, last for %s; want 2, the last for the new role", n, last.roleARN)
	}
}

// TestAPIServerGoingAwayAfterTheInformersStarted: Mounts of ServiceAccounts
// the informer already holds keep resolving without the API server; one it
// does not hold fails, saying the Kubernetes API could not be read.
func TestAPIServerGoingAwayAfterTheInformersStarted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, k := startKube(t, ctx, "node-1", serviceAccount("shop", "cart", roleCart))
	f := newFixture(t)
	creds := newCreds(k, NewIRSA(f.sts.forRegion, IRSAOptions{}), nil, f.clock.Now)
	regions := kube.NewRegions(k, "", "node-1")
	s.Close()

	t.Run("a ServiceAccount the informer holds still resolves", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			region, err := regions.Region(ctx, "", "shop", "cart-1")
			if err != nil || region != "us-west-2" {
				t.Fatalf("Region = %q, %v", region, err)
			}
			req := testReq(t, "shop", "cart", fmt.Sprintf("cart-%d", i))
			req.Region = region
			if id, _, err := creds.Resolve(ctx, req.mount()); err != nil || id.RoleARN != roleCart {
				t.Fatalf("Resolve = %+v, %v", id, err)
			}
		}
		if n := f.sts.count(); n != 1 {
			t.Errorf("STS calls = %d, want 1", n)
		}
	})
	t.Run("a ServiceAccount the informer does not hold fails saying the Kubernetes API is unavailable", func(t *testing.T) {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		began := time.Now()
		req := testReq(t, "shop", "ghost", "ghost-1")
		_, _, err := creds.Resolve(mctx, req.mount())
		testkit.WantKind(t, err, failure.Unavailable, "reading ServiceAccount shop/ghost from the Kubernetes API", "connection refused")
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("took %v", took)
		}
		t.Logf("after %v: %v", time.Since(began).Round(time.Millisecond), err)
	})
}
