package httpapi

import "sync"

// perKey counts what each API key holds at once (open config streams,
// ingest slots) and refuses more than max per key. It keeps an entry only
// while a key holds something, so its size is bounded by what is held.
type perKey struct {
	mu  sync.Mutex
	n   map[string]int
	max int // <= 0: no limit
}

func newPerKey(max int) *perKey { return &perKey{n: map[string]int{}, max: max} }

// acquire takes one unit for key, or reports false when key already
// holds max. Every true must be matched by one release.
func (p *perKey) acquire(key string) bool {
	if p.max <= 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[key] >= p.max {
		return false
	}
	p.n[key]++
	return true
}

// release gives back a unit taken by acquire.
func (p *perKey) release(key string) {
	if p.max <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[key]--; p.n[key] <= 0 {
		delete(p.n, key)
	}
}
