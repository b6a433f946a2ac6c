package httpapi

import (
	"context"
	"sync"
	"time"
)

// perKey counts what each API key holds at once (open config streams,
// ingest slots) and refuses more than max per key. For the ingest slots, a
// key may also borrow beyond max while no request of another key waits
// (borrow, queued). It keeps an entry only while a key holds or waits for
// something, so its size is bounded by what is held and waited for.
type perKey struct {
	mu  sync.Mutex
	n   map[string]int
	max int // <= 0: no limit
	// waiters counts the requests of each key waiting (queued), waiting
	// their sum.
	waiters map[string]int
	waiting int
	// changed, when not nil, is closed at the next release to wake the
	// waiters of wait.
	changed chan struct{}
}

func newPerKey(max int) *perKey {
	return &perKey{n: map[string]int{}, max: max, waiters: map[string]int{}}
}

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

// othersWaiting reports whether a request of a key other than key waits;
// p.mu is held.
func (p *perKey) othersWaiting(key string) bool { return p.waiting > p.waiters[key] }

// borrow takes one unit for key beyond max, when no request of another key
// waits. Every true must be matched by one release, or by unborrow when
// the unit was not used.
func (p *perKey) borrow(key string) bool {
	if p.max <= 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.othersWaiting(key) {
		return false
	}
	p.n[key]++
	return true
}

// unborrow gives back a unit that was not used, without waking the
// waiters (nothing was freed for them). The channel it returns is closed at
// the next release: wait for it before borrowing again.
func (p *perKey) unborrow(key string) <-chan struct{} {
	if p.max <= 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[key]--; p.n[key] <= 0 {
		delete(p.n, key)
	}
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// queued counts a request of key as waiting (d = 1) or no longer (d = -1).
func (p *perKey) queued(key string, d int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiting += d
	if p.waiters[key] += d; p.waiters[key] <= 0 {
		delete(p.waiters, key)
	}
}

// wait takes one unit for key, waiting for a release until expired fires
// or ctx ends; ok reports whether it took one, over whether the unit is
// beyond max (borrowed: no request of another key was waiting).
func (p *perKey) wait(ctx context.Context, key string, expired <-chan time.Time) (ok, over bool) {
	for {
		if p.max <= 0 {
			return true, false
		}
		p.mu.Lock()
		if p.n[key] < p.max || !p.othersWaiting(key) {
			over = p.n[key] >= p.max
			p.n[key]++
			p.mu.Unlock()
			return true, over
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-expired:
			return false, false
		case <-ctx.Done():
			return false, false
		}
	}
}
