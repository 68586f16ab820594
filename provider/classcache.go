package provider

import (
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// ClassCache remembers parsed classes. The same SecretProviderClass arrives
// with every republish of every pod that mounts it, and parsing its objects
// YAML is most of the CPU a warm Mount costs; a class is a pure function of
// its parameters and the driver's default mode, so the parse is kept.
type ClassCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, *Class]
}

// NewClassCache keeps up to size parsed classes (least recently used go).
func NewClassCache(size int) *ClassCache {
	l, _ := simplelru.NewLRU[string, *Class](max(size, 1), nil)
	return &ClassCache{lru: l}
}

// Parse is ParseClass, remembered. The caller gets its own copy of the
// Class (WithRegion sets its Region); the objects are shared and must not be
// modified. Failures are not remembered.
func (cc *ClassCache) Parse(params map[string]string, defaultMode int32) (*Class, error) {
	var key strings.Builder
	key.WriteString(strconv.Itoa(int(defaultMode)))
	for _, k := range []string{paramObjects, paramRegion, paramFailoverRegion, paramPathTranslation, paramUsePodIdentity, paramPreferredAddressType} {
		v, ok := params[k]
		key.WriteString("\x00")
		if ok {
			key.WriteString("=" + v)
		}
	}
	cc.mu.Lock()
	c, ok := cc.lru.Get(key.String())
	cc.mu.Unlock()
	if !ok {
		var err error
		if c, err = ParseClass(params, defaultMode); err != nil {
			return nil, err
		}
		cc.mu.Lock()
		cc.lru.Add(key.String(), c)
		cc.mu.Unlock()
	}
	cp := *c
	return &cp, nil
}
