package auth

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestInvalidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		podIdentity bool
		after       time.Duration // clock advance before Invalidate
		keyID       func(cached string) string
		minAge      time.Duration
		wantDropped bool
	}{
		{name: "the cached key id with no minimum age is dropped",
			keyID: same, wantDropped: true},
		{name: "another key id leaves the entry alone",
			keyID: func(string) string { return "ASIAOTHER" }},
		{name: "an empty key id leaves the entry alone",
			keyID: func(string) string { return "" }},
		{name: "credentials younger than the minimum age stay",
			after: 59 * time.Second, keyID: same, minAge: time.Minute},
		{name: "credentials exactly the minimum age old are dropped",
			after: time.Minute, keyID: same, minAge: time.Minute, wantDropped: true},
		{name: "Pod Identity credentials are dropped like IRSA ones",
			podIdentity: true, keyID: same, wantDropped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, serviceAccount("shop", "cart", roleCart))
			req := testReq(t, "shop", "cart", "p1")
			req.Mode = modeOf(tt.podIdentity)
			calls := func() int { return f.sts.count() + int(f.agent.calls.Load()) }
			id, first := f.mustResolve(t, req)
			f.clock.Set(t0.Add(tt.after))

			if got := f.creds.Invalidate(id, tt.keyID(first.AccessKeyID), tt.minAge); got != tt.wantDropped {
				t.Errorf("Invalidate = %v, want %v", got, tt.wantDropped)
			}
			_, next := f.mustResolve(t, req)
			if tt.wantDropped {
				if calls() != 2 || next.AccessKeyID == first.AccessKeyID {
					t.Errorf("after the drop: %d calls, credentials %s (before %s); want new ones from a second call",
						calls(), next.AccessKeyID, first.AccessKeyID)
				}
				return
			}
			if calls() != 1 || next.AccessKeyID != first.AccessKeyID {
				t.Errorf("after a refused Invalidate: %d calls, credentials %s; want the cached %s and 1 call",
					calls(), next.AccessKeyID, first.AccessKeyID)
			}
		})
	}
}

func same(s string) string { return s }

func TestInvalidateDropsOnlyTheIdentitysEntry(t *testing.T) {
	t.Parallel()
	t.Run("an identity with nothing cached is not dropped", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, serviceAccount("shop", "cart", roleCart))
		id := Identity{Mode: ModeIRSA, Namespace: "shop", ServiceAccount: "cart", RoleARN: roleCart, Region: "eu-west-1"}
		if f.creds.Invalidate(id, "ASIA1", 0) {
			t.Error("Invalidate reported a drop of nothing")
		}
	})
	t.Run("with the pod scope dropping one pod's entry keeps the other pod's", func(t *testing.T) {
		t.Parallel()
		f := scopedFixture(t, ScopePod, false, serviceAccount("shop", "cart", roleCart))
		idA, credsA := f.mustResolve(t, testReq(t, "shop", "cart", "cart-a"))
		_, credsB := f.mustResolve(t, testReq(t, "shop", "cart", "cart-b"))
		if !f.creds.Invalidate(idA, credsA.AccessKeyID, 0) {
			t.Fatal("pod a's entry was not dropped")
		}
		if _, c := f.mustResolve(t, testReq(t, "shop", "cart", "cart-b")); c.AccessKeyID != credsB.AccessKeyID || f.sts.count() != 2 {
			t.Errorf("pod b got %s after %d STS calls; want its cached %s", c.AccessKeyID, f.sts.count(), credsB.AccessKeyID)
		}
	})
	t.Run("many Mounts that saw one rejection drop the entry once", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, serviceAccount("shop", "cart", roleCart))
		id, c := f.mustResolve(t, testReq(t, "shop", "cart", "p1"))
		var dropped atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if f.creds.Invalidate(id, c.AccessKeyID, 0) {
					dropped.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := dropped.Load(); n != 1 {
			t.Errorf("%d Invalidate calls reported a drop, want 1", n)
		}
	})
}

// TestInvalidateRacesWithResolve: Mounts resolve and drop the credentials
// they were given, as the server does after a rejection, all at once.
// Run with -race; every Mount must get credentials STS issued for it.
func TestInvalidateRacesWithResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceAccount("shop", "cart", roleCart), serviceAccount("shop", "web", roleCart))
	var wg sync.WaitGroup
	var dropped atomic.Int32
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sa := []string{"cart", "web"}[i%2]
			for j := 0; j < 25; j++ {
				id, p, err := f.creds.Resolve(context.Background(), testReq(t, "shop", sa, fmt.Sprintf("p%d", i)).mount())
				if err != nil {
					t.Errorf("Resolve: %v", err)
					return
				}
				c, _ := p.Retrieve(context.Background())
				if c.AccessKeyID == "" {
					t.Errorf("empty credentials")
				}
				if j%5 == 0 && f.creds.Invalidate(id, c.AccessKeyID, 0) {
					dropped.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// Every drop removed an entry that one STS call had filled.
	if d, n := int(dropped.Load()), f.sts.count(); d == 0 || n < d {
		t.Errorf("%d drops and %d STS calls: want some drops, each of an entry STS filled", d, n)
	}
}
