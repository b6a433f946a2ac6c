package httpapi

import (
	"context"
	"sync"
	"time"
)

// perKey counts what each API key holds at once (open config streams,
// ingest slots) and refuses more than max per key. It keeps an entry only
// while a key holds something, so its size is bounded by what is held.
type perKey struct {
	mu  sync.Mutex
	n   map[string]int
	max int // <= 0: no limit
	// changed, when not nil, is closed at the next release to wake the
	// waiters of wait.
	changed chan struct{}
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
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// wait is acquire that waits for a release until expired fires or ctx
// ends; it reports whether it took the unit.
func (p *perKey) wait(ctx context.Context, key string, expired <-chan time.Time) bool {
	for {
		if p.max <= 0 {
			return true
		}
		p.mu.Lock()
		if p.n[key] < p.max {
			p.n[key]++
			p.mu.Unlock()
			return true
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-expired:
			return false
		case <-ctx.Done():
			return false
		}
	}
}
