package provider

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/request"
)

// lookupCounter is the FetchObserver of these tests.
type lookupCounter struct {
	mu         sync.Mutex
	hit, miss  int
	staleTotal int
}

func (c *lookupCounter) ObserveStaleValue(string)      { c.mu.Lock(); c.staleTotal++; c.mu.Unlock() }
func (c *lookupCounter) ObserveOptionalMissing(string) {}

func (c *lookupCounter) ObserveValueLookup(hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hit {
		c.hit++
	} else {
		c.miss++
	}
}

// take returns the counts so far and starts again from zero.
func (c *lookupCounter) take() (hit, miss int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hit, miss, c.hit, c.miss = c.hit, c.miss, 0, 0
	return hit, miss
}

func TestEveryObjectLookupInTheValueCacheIsCountedAsAHitOrAMiss(t *testing.T) {
	ttl := 2 * time.Minute
	obs := &lookupCounter{}
	e := newFetchEnv(t, FetcherOptions{CacheTTL: ttl, StaleMax: time.Hour, Observer: obs})
	c := e.secrets("us-west-2", 3)
	republish := func(notBefore time.Time) {
		t.Helper()
		req := FetchRequest{Scope: "s", Credentials: e.creds, Mount: &request.Mount{Class: c.Class, Region: c.region}, NotBefore: notBefore}
		if _, err := e.f.Fetch(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name            string
		run             func()
		wantHit, wantMs int
	}{
		{"a first Mount misses once per object", func() { e.mustFetch("s", c) }, 0, 3},
		{"a Mount within the TTL hits once per object", func() { e.mustFetch("s", c) }, 3, 0},
		{"a value past its TTL is held but counts as a miss", func() { e.clock.Advance(ttl + time.Second); e.mustFetch("s", c) }, 0, 3},
		{"a republish that needs values newer than the pod's previous Mount misses", func() { republish(e.clock.Now().Add(time.Second)) }, 0, 3},
		{"another identity misses: its scope has nothing cached", func() { e.mustFetch("other", c) }, 0, 3},
	}
	for _, s := range steps {
		s.run()
		if hit, miss := obs.take(); hit != s.wantHit || miss != s.wantMs {
			t.Errorf("%s: hits %d, misses %d; want %d and %d", s.name, hit, miss, s.wantHit, s.wantMs)
		}
	}
}

func TestLookupsAreNotCountedWhenTheCacheIsOffOrInTheBackground(t *testing.T) {
	t.Run("with --cache-ttl=0 there is no value cache to look in", func(t *testing.T) {
		obs := &lookupCounter{}
		e := newFetchEnv(t, FetcherOptions{CacheTTL: 0, Observer: obs})
		e.mustFetch("s", e.secrets("us-west-2", 2))
		if hit, miss := obs.take(); hit+miss != 0 {
			t.Errorf("hits %d, misses %d; want none", hit, miss)
		}
	})
	t.Run("a background failover check counts only the Mount's own lookups", func(t *testing.T) {
		obs := &lookupCounter{}
		e := newFetchEnv(t, FetcherOptions{CacheTTL: time.Minute, Observer: obs})
		c := e.secrets("us-west-2", 2)
		e.aws.PutSecretString("us-east-1", "s00", "replica")
		e.aws.PutSecretString("us-east-1", "s01", "replica")
		c.Class = &class.Class{FailoverRegion: "us-east-1", Objects: c.Objects}
		e.mustFetch("s", c)
		e.f.Wait()
		if hit, miss := obs.take(); hit != 0 || miss != 2 {
			t.Errorf("hits %d, misses %d; want 0 and 2 (the Mount's two objects)", hit, miss)
		}
	})
}
