package provider

import (
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// valueCache holds values read from AWS, keyed by identity scope first:
// a value read with one identity's credentials is never served to another
// (docs/design.md, invariant 2).
//
// Each entry remembers when AWS last confirmed that this identity may read
// the object (confirmedAt). An entry is fresh, and served without a call,
// while that confirmation is younger than the TTL and no older than the
// caller's notBefore (a republish's previous Mount, invariant 8). A value
// pinned to a Secrets Manager VersionId cannot change, so only the access is
// confirmed again (by a batched read of the same secret); everything else is
// read again. Entries past the TTL are kept, up to staleMax after their last
// confirmation, only to be served when AWS cannot be reached (never after a
// denial: those are removed at once). Bounded by entries and by bytes, least
// recently used first.
type valueCache struct {
	ttl, staleMax time.Duration
	maxBytes      int
	now           func() time.Time
	mu            sync.Mutex
	lru           *simplelru.LRU[string, cacheEntry]
	bytes         int
	lastSweep     time.Time
	sweepEvery    time.Duration
}

type cacheEntry struct {
	value Value
	// confirmedAt is when the read that last confirmed this value (or, for
	// a pinned version, this identity's access to it) started.
	confirmedAt time.Time
	pinned      bool
	numByte     int
}

// freshness is what the cache can say about one key for one caller.
type freshness int

const (
	missing freshness = iota
	stale             // held, but not servable without a confirmation
	fresh
)

// newValueCache returns a cache; ttl <= 0 disables it (every lookup misses,
// nothing is stored, nothing is served stale), which is the reference
// provider's behaviour.
func newValueCache(ttl, staleMax time.Duration, maxEntries, maxBytes int, now func() time.Time) *valueCache {
	c := &valueCache{ttl: ttl, staleMax: staleMax, maxBytes: maxBytes, now: now, sweepEvery: max(ttl/2, time.Second)}
	c.lru, _ = simplelru.NewLRU[string, cacheEntry](max(maxEntries, 1), func(_ string, e cacheEntry) { c.bytes -= e.numByte })
	return c
}

func (c *valueCache) enabled() bool { return c.ttl > 0 }

// keep is how long after its last confirmation an entry that is not pinned
// may be held.
func (c *valueCache) keep() time.Duration { return max(c.ttl, c.staleMax) }

// cacheKey names one object read in one region under one identity scope.
// The separator cannot occur in scopes, regions or AWS names.
func cacheKey(scope, region string, l objectRead) string {
	label := l.versionLabel
	if l.version == "" && label != "" && label == l.svc.currentLabel {
		label = "" // the same value as no label: one entry, one read
	}
	name := l.name
	if l.list != nil {
		name = "\x01list " + l.list.Signature() // never a name AWS accepts
	}
	return strings.Join([]string{scope, region, string(l.svc.objectType), name, l.version, label}, "\x00")
}

// pinned reports whether a read names a value that can never change: a
// version of a service whose versions pin values (a Secrets Manager
// VersionId; not an SSM version number: a parameter deleted and created
// again starts from version 1 with another value). Labels and stages move,
// so they are never pinned.
func (l objectRead) pinned() bool {
	return l.svc.versionPins && l.version != ""
}

// lookup returns the entry for key and how usable it is for a caller that
// needs a confirmation no older than notBefore.
func (c *valueCache) lookup(key string, notBefore time.Time) (cacheEntry, freshness) {
	if !c.enabled() {
		return cacheEntry{}, missing
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if !ok {
		return cacheEntry{}, missing
	}
	age := c.now().Sub(e.confirmedAt)
	switch {
	case !e.pinned && age >= c.keep():
		c.lru.Remove(key)
		return cacheEntry{}, missing
	case age < c.ttl && !e.confirmedAt.Before(notBefore):
		return e, fresh
	}
	return e, stale
}

// get returns a fresh value for key; a fresh absence (Value.Missing, an
// optional object AWS said does not exist) only when absentOK.
func (c *valueCache) get(key string, notBefore time.Time, absentOK bool) (Value, time.Time, bool) {
	e, f := c.lookup(key, notBefore)
	return e.value, e.confirmedAt, f == fresh && (absentOK || !e.value.Missing)
}

// putAbsent records that AWS said, in a read that started at confirmedAt,
// that the object of key does not exist: the value it held is gone, and
// optional objects of this identity are left out without a read until the
// TTL (docs/compatibility.md, fields the reference does not have). Only an optional read is ever served an absence.
func (c *valueCache) putAbsent(key string, confirmedAt time.Time) {
	c.put(key, Value{Missing: true}, false, confirmedAt)
}

// servableStale returns the value for key when AWS confirmed it within
// staleMax: the last good value, for when AWS cannot be reached.
func (c *valueCache) servableStale(key string) (cacheEntry, bool) {
	e, f := c.lookup(key, time.Time{})
	if f == missing || c.staleMax <= 0 || c.now().Sub(e.confirmedAt) > c.staleMax {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *valueCache) put(key string, v Value, pinned bool, confirmedAt time.Time) {
	c.putAll([]cacheWrite{{key: key, value: v, pinned: pinned}}, confirmedAt)
}

// cacheWrite is one entry of a putAll.
type cacheWrite struct {
	key    string
	value  Value
	pinned bool
}

// putAll stores what one read learnt (values, and absences as
// Value{Missing: true}) at once: a Mount looking up the same objects sees
// all of them or none, so it never starts a read of its own for the part
// it missed while the read that answered it was storing.
func (c *valueCache) putAll(ws []cacheWrite, confirmedAt time.Time) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range ws {
		c.putLocked(w.key, w.value, w.pinned, confirmedAt)
	}
	c.sweepLocked()
}

func (c *valueCache) putLocked(key string, v Value, pinned bool, confirmedAt time.Time) {
	n := v.size() + len(key)
	if c.maxBytes > 0 && n > c.maxBytes {
		return
	}
	if old, ok := c.lru.Peek(key); ok {
		if old.confirmedAt.After(confirmedAt) {
			return // a later read already answered
		}
		c.bytes -= old.numByte // Add replaces without the evict callback
	}
	c.lru.Add(key, cacheEntry{value: v, confirmedAt: confirmedAt, pinned: pinned, numByte: n})
	c.bytes += n
	for c.maxBytes > 0 && c.bytes > c.maxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// confirm records that AWS confirmed, at confirmedAt, this identity's access
// to the object of a pinned entry. It reports whether the entry was there.
func (c *valueCache) confirm(key string, confirmedAt time.Time) (Value, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Peek(key)
	if !ok || !e.pinned {
		return Value{}, false
	}
	if confirmedAt.After(e.confirmedAt) {
		e.confirmedAt = confirmedAt
		c.lru.Add(key, e)
	}
	return e.value, true
}

// remove forgets key: AWS refused it to this identity, so it must not be
// served again, not even as a stale value. keepAbsence keeps an absence:
// the read that learnt the object does not exist recorded it there in
// place of the value.
func (c *valueCache) remove(key string, keepAbsence bool) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.lru.Peek(key); ok && keepAbsence && e.value.Missing {
		return
	}
	c.lru.Remove(key)
}

// sweepLocked drops entries past keep(), at most every sweepEvery. Pinned
// entries stay until evicted: confirming one costs a share of a batched
// read, reading it again a call of its own.
func (c *valueCache) sweepLocked() {
	now := c.now()
	if now.Sub(c.lastSweep) < c.sweepEvery {
		return
	}
	c.lastSweep = now
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && !e.pinned && now.Sub(e.confirmedAt) >= c.keep() {
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
