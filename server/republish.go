package server

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// republishes remembers when each pod's volume last mounted successfully,
// so that its next republish is never answered with a value AWS confirmed
// before then (docs/design.md, invariant 8): with the driver's rotation on,
// a republish is the driver asking for fresh data, and a rotated secret
// must reach the pod within two of its own republishes whatever the cache
// TTL. Pods of one identity still share one read per round: a value read
// at t serves every pod whose previous Mount began before t.
//
// A volume is named by the pod UID and the target path (kubelet's path holds
// the UID too). The memory is bounded: when a volume is forgotten to make
// room, floor remembers the latest start it held, and a volume the daemon
// does not know is treated as if it had mounted then. That can only cost a
// read, never serve an older value. A volume unknown since the daemon
// started needs nothing: every cached value is younger than the process.
type republishes struct {
	mu    sync.Mutex
	seed  maphash.Seed
	lru   *simplelru.LRU[uint64, time.Time]
	floor time.Time
}

// defaultRememberedVolumes bounds the memory (16 bytes of key and time and
// the LRU's bookkeeping each): far more volumes than a node runs.
const defaultRememberedVolumes = 16384

func newRepublishes(size int) *republishes {
	r := &republishes{seed: maphash.MakeSeed()}
	r.lru, _ = simplelru.NewLRU[uint64, time.Time](max(size, 1), func(_ uint64, t time.Time) {
		if t.After(r.floor) {
			r.floor = t
		}
	})
	return r
}

func (r *republishes) key(podUID, targetPath string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	_, _ = h.WriteString(podUID)
	_ = h.WriteByte(0)
	_, _ = h.WriteString(targetPath)
	return h.Sum64()
}

// notBefore returns the start of the volume's previous successful Mount;
// for a volume it does not remember, the floor (zero until a volume was
// forgotten to make room). Driver v1.6 sends no object versions and v1.5
// none on a first publish, so a forgotten volume cannot be told from a new
// one: the floor applies to both.
func (r *republishes) notBefore(podUID, targetPath string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.lru.Get(r.key(podUID, targetPath)); ok {
		return t
	}
	return r.floor
}

// mounted records a successful Mount of the volume that began at start.
func (r *republishes) mounted(podUID, targetPath string, start time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.key(podUID, targetPath)
	if prev, ok := r.lru.Peek(k); ok && prev.After(start) {
		return
	}
	r.lru.Add(k, start)
}
