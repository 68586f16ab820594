package provider

import (
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// valueCache holds values read from AWS, keyed by identity scope first:
// a value read with one identity's credentials is never served to another
// (DESIGN invariant 2). Mutable objects (no version pinned) live for ttl
// after they were read; pinned ones (a Secrets Manager VersionId, an SSM
// version number) never change and live until evicted. Bounded by entries
// and by bytes, least recently used first; expired entries are swept so
// that values are not held longer than the TTL needs.
type valueCache struct {
	ttl        time.Duration
	maxBytes   int
	now        func() time.Time
	mu         sync.Mutex
	lru        *simplelru.LRU[string, cacheEntry]
	bytes      int
	lastSweep  time.Time
	sweepEvery time.Duration
}

type cacheEntry struct {
	value   Value
	readAt  time.Time
	pinned  bool
	numByte int
}

// newValueCache returns a cache; ttl <= 0 disables it (every Get misses,
// nothing is stored), which is the reference provider's behaviour.
func newValueCache(ttl time.Duration, maxEntries, maxBytes int, now func() time.Time) *valueCache {
	c := &valueCache{ttl: ttl, maxBytes: maxBytes, now: now, sweepEvery: max(ttl/2, time.Second)}
	c.lru, _ = simplelru.NewLRU[string, cacheEntry](max(maxEntries, 1), func(_ string, e cacheEntry) { c.bytes -= e.numByte })
	return c
}

func (c *valueCache) enabled() bool { return c.ttl > 0 }

// cacheKey names one object read in one region under one identity scope.
// The separator cannot occur in scopes, regions or AWS names.
func cacheKey(scope, region string, l lookup) string {
	label := l.versionLabel
	if l.typ == SecretsManager && l.version == "" && label == "AWSCURRENT" {
		label = "" // the same value as no label: one entry, one read
	}
	return strings.Join([]string{scope, region, string(l.typ), l.name, l.version, label}, "\x00")
}

// pinned reports whether a lookup names an immutable version.
func (l lookup) pinned() bool {
	return l.version != ""
}

func (c *valueCache) get(key string) (Value, bool) {
	if !c.enabled() {
		return Value{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if !ok {
		return Value{}, false
	}
	if !e.pinned && c.now().Sub(e.readAt) >= c.ttl {
		c.lru.Remove(key)
		return Value{}, false
	}
	return e.value, true
}

func (c *valueCache) put(key string, v Value, pinned bool, readAt time.Time) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(v.Data) + len(key) + len(v.Version)
	if c.maxBytes > 0 && n > c.maxBytes {
		return
	}
	if old, ok := c.lru.Peek(key); ok {
		c.bytes -= old.numByte // Add replaces without the evict callback
	}
	c.lru.Add(key, cacheEntry{value: v, readAt: readAt, pinned: pinned, numByte: n})
	c.bytes += n
	for c.maxBytes > 0 && c.bytes > c.maxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
	c.sweepLocked()
}

// sweepLocked drops expired mutable entries, at most every sweepEvery.
func (c *valueCache) sweepLocked() {
	now := c.now()
	if now.Sub(c.lastSweep) < c.sweepEvery {
		return
	}
	c.lastSweep = now
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && !e.pinned && now.Sub(e.readAt) >= c.ttl {
			c.lru.Remove(k)
		}
	}
}

// stats returns the number of entries and bytes held.
func (c *valueCache) stats() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// expiringSet is a bounded set of keys that each expire: used to remember
// facts for a while (a denied batch permission, a recent failover check).
type expiringSet struct {
	mu  sync.Mutex
	now func() time.Time
	lru *simplelru.LRU[string, time.Time]
}

func newExpiringSet(size int, now func() time.Time) *expiringSet {
	l, _ := simplelru.NewLRU[string, time.Time](size, nil)
	return &expiringSet{now: now, lru: l}
}

// contains reports whether key was added and has not expired.
func (s *expiringSet) contains(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.lru.Get(key)
	return ok && s.now().Before(until)
}

// add remembers key for ttl.
func (s *expiringSet) add(key string, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lru.Add(key, s.now().Add(ttl))
}

// addIfAbsent adds key for ttl unless it is already there; it reports
// whether it added it.
func (s *expiringSet) addIfAbsent(key string, ttl time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if until, ok := s.lru.Get(key); ok && now.Before(until) {
		return false
	}
	s.lru.Add(key, now.Add(ttl))
	return true
}
