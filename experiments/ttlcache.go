package experiments

import (
	"sync"
	"time"
)

// ttlCache is a small bounded map whose entries expire after a TTL. It is
// what Authenticate and Assign use to avoid reading the store on every
// request.
//
// It is kept rather than github.com/hashicorp/golang-lru/v2/expirable
// (v2.0.7), which is weaker here: every expirable.LRU with a TTL starts a
// cleanup goroutine that never exits (its Close is commented out) and
// wakes every TTL/100 (every 50 ms for the 5 s auth and consent TTLs, so
// 40 wake-ups a second per Service for those two caches alone), and
// setTTL, which must empty the cache, would leak one more goroutine per
// call; it has no in-place update that keeps the expiry (touched needs
// one), and no way to refuse a put after an invalidation (the generation
// below). These caches are small (at most 10,000 entries) and expire
// lazily on get, with no goroutine. A generation counter, bumped by every invalidation, lets a
// reader that went to the store refuse to cache what it read if the value
// was invalidated meanwhile (get returns the generation; put takes it).
type ttlCache[V any] struct {
	mu      sync.Mutex
	ttl     time.Duration // 0 or less: caching is off
	max     int
	gen     uint64
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	value   V
	expires time.Time // on the monotonic clock
}

func newTTLCache[V any](ttl time.Duration, max int) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, entries: map[string]ttlEntry[V]{}}
}

// get returns the live value of key, and the generation to pass to put.
func (c *ttlCache[V]) get(key string) (v V, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && !time.Now().Before(e.expires) {
		delete(c.entries, key)
		ok = false
	}
	if ok {
		v = e.value
	}
	return v, c.gen, ok
}

// put caches v under key unless caching is off or an invalidation
// happened since gen was read. A full cache drops its expired entries,
// then arbitrary ones.
func (c *ttlCache[V]) put(key string, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ttl <= 0 || c.gen != gen {
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		now := time.Now()
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = ttlEntry[V]{value: v, expires: time.Now().Add(c.ttl)}
}

// update changes the live value of key in place, if there is one.
func (c *ttlCache[V]) update(key string, change func(*V)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		change(&e.value)
		c.entries[key] = e
	}
}

// invalidate drops key.
func (c *ttlCache[V]) invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, key)
}

// setTTL changes the TTL and empties the cache.
func (c *ttlCache[V]) setTTL(ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ttl = ttl
	c.gen++
	clear(c.entries)
}
