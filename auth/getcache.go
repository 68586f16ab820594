package auth

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// getCache shares direct reads of one Kubernetes object: concurrent reads
// of a key make one API call, and a non-empty answer is reused for ttl (0 =
// until evicted). Errors and empty answers are never reused, so a fix (an
// annotation added, a label set) is seen by the next Mount. Bounded (least
// recently used go first); safe for concurrent use.
type getCache struct {
	ttl     time.Duration
	now     func() time.Time
	entries *lru.Cache[string, getEntry]
	group   singleflight.Group
}

type getEntry struct {
	value string
	at    time.Time
}

func newGetCache(ttl time.Duration, clock func() time.Time) *getCache {
	entries, err := lru.New[string, getEntry](getCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &getCache{ttl: ttl, now: clock, entries: entries}
}

// get returns key's value: remembered (when keep and still fresh), else read
// by fetch, once for all concurrent callers, and remembered when keep. A
// caller whose ctx ends stops waiting; the read goes on (bounded by
// getBudget) for the others.
func (c *getCache) get(ctx context.Context, key string, keep bool, fetch func(context.Context) (string, error)) (string, error) {
	if keep {
		if e, ok := c.entries.Get(key); ok && (c.ttl == 0 || c.now().Sub(e.at) < c.ttl) {
			return e.value, nil
		}
	}
	ch := c.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), getBudget)
		defer cancel()
		at := c.now()
		v, err := fetch(fctx)
		if err == nil && v != "" && keep {
			c.entries.Add(key, getEntry{value: v, at: at})
		}
		return v, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		v, ok := r.Val.(string)
		if !ok {
			return "", errNoAnswer
		}
		return v, nil
	case <-ctx.Done():
		return "", failure.New(failure.Timeout, "waiting for the Kubernetes API to answer for %s: %s", key, kubeCause(ctx.Err()))
	}
}
