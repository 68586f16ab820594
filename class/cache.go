package class

import (
	"crypto/sha256"
	"runtime"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"
)

// classCacheBytes bounds the estimated bytes of the parsed classes and
// failures a Cache keeps (docs/limits.md). A class is at most 64 KiB of
// objects text, but its parse can hold more (file names, compiled
// expressions), and any tenant can make new classes.
const classCacheBytes = 16 << 20

// Cache remembers parsed classes. The same SecretProviderClass arrives
// with every republish of every pod that mounts it, and parsing its objects
// YAML is most of the CPU a warm Mount costs; a class is a pure function of
// its parameters and the driver's default mode, so the parse is kept.
//
// Failures are kept too: kubelet retries a broken class's Mount again and
// again, and each retry then costs one hash. Entries are keyed by a SHA-256
// of every parameter the parser reads, the class's and its modes', and the
// driver's default mode (classValues.key), so no class text is kept, and
// the cache is bounded by entries and by estimated bytes.
//
// Every limit on a class bounds one parse or one Mount; a tenant can start
// a hundred pods at once. So concurrent Mounts of one new class share one
// parse, and the cache bounds how many classes are parsed, and how many
// objects' jmesPath entries of the classes it returns are evaluated, at
// once: one per CPU, since both are CPU-bound work on tenant input.
type Cache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[[sha256.Size]byte, *classEntry]
	bytes    int
	maxBytes int
	flight   singleflight.Group
	work     chan struct{}
	// params are the parser's, read from every Mount's attributes.
	params paramList
	// parse is the parser's; tests count its calls.
	parse func(classValues, int32) (*Class, error)
}

// classEntry is one parse: its class or its error, and its estimated bytes.
type classEntry struct {
	class *Class
	err   error
	size  int
}

// NewCache keeps up to size classes parsed with catalog (least recently
// used go), and no more than classCacheBytes of them. It fails when
// catalog cannot be parsed with (see Parse).
func NewCache(size int, catalog Catalog) (*Cache, error) {
	p, err := newParser(catalog)
	if err != nil {
		return nil, err
	}
	cc := &Cache{maxBytes: classCacheBytes, work: make(chan struct{}, runtime.GOMAXPROCS(0)), params: p.params, parse: p.parse}
	cc.lru, _ = simplelru.NewLRU(max(size, 1), func(_ [sha256.Size]byte, e *classEntry) { cc.bytes -= e.size })
	return cc, nil
}

// Parse is the package's Parse with the cache's catalog, remembered. Every
// caller of one parse gets the same Class, which no one modifies.
func (cc *Cache) Parse(params map[string]string, defaultMode int32) (*Class, error) {
	v := cc.params.read(params)
	key := v.key(defaultMode)
	cc.mu.Lock()
	e, ok := cc.lru.Get(key)
	cc.mu.Unlock()
	if !ok {
		res, _, _ := cc.flight.Do(string(key[:]), func() (any, error) {
			release := acquire(cc.work)
			c, err := cc.parse(v, defaultMode)
			release()
			if c != nil {
				c.work = cc.work
			}
			e := &classEntry{class: c, err: err, size: entrySize(c, err)}
			cc.add(key, e)
			return e, nil
		})
		e = res.(*classEntry)
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.class, nil
}

// acquire takes one of slots' places, waiting for one, and returns what
// gives it back; a nil slots has room for everyone.
func acquire(slots chan struct{}) (release func()) {
	if slots == nil {
		return func() {}
	}
	slots <- struct{}{}
	return func() { <-slots }
}

// add keeps e unless it alone is over the byte bound, then drops the least
// recently used entries until the cache is within it again.
func (cc *Cache) add(key [sha256.Size]byte, e *classEntry) {
	if e.size > cc.maxBytes {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.lru.Contains(key) {
		return // another Mount parsed it meanwhile
	}
	cc.bytes += e.size
	cc.lru.Add(key, e)
	for cc.bytes > cc.maxBytes {
		cc.lru.RemoveOldest()
	}
}

// entrySize estimates what an entry holds: the key and bookkeeping, then the
// error's text or the class.
func entrySize(c *Class, err error) int {
	const entryBytes = 128
	if err != nil {
		return entryBytes + len(err.Error())
	}
	return entryBytes + c.size()
}

// size estimates the bytes a parsed class holds: its strings, its objects
// and their compiled expressions (counted for each entry that uses one,
// which only overestimates).
func (c *Class) size() int {
	const classBytes, objectBytes, jmesFileBytes, failoverBytes = 128, 192, 64, 64
	n := classBytes + len(c.Region) + len(c.FailoverRegion) + len(c.PathTranslation) + len(c.PreferredAddressType)
	for i := range c.Objects {
		o := &c.Objects[i]
		n += objectBytes + len(o.Name) + len(o.Alias) + len(o.Version) + len(o.VersionLabel) + len(o.FileName)
		for j := range o.JMESPath {
			e := &o.JMESPath[j]
			n += jmesFileBytes + len(e.Path) + len(e.FileName)
			if e.Expr != nil {
				n += e.Expr.Size()
			}
		}
		if f := o.Failover; f != nil {
			n += failoverBytes + len(f.Name) + len(f.Version) + len(f.VersionLabel)
		}
	}
	return n
}
