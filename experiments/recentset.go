package experiments

import "sync"

// recentSet is the exposure batcher's set of recently committed exposure
// IDs and links (exposureBatcher.fresh, storeLinks), by their 16-byte keys:
// a bounded set that forgets the oldest keys first.
//
// It keeps two generations of at most size/2 keys each. Add puts a key
// into the current generation; when that is full, the older generation is
// emptied and becomes the current one. So the set holds the last size/2 to
// size keys added (a key added again counts as new). Both generations are
// allocated for size/2 keys up front and reused (clear keeps a map's
// storage), so the set's memory is the same from the start whatever it
// holds: about 0.6 MiB for 16,384 keys, where an LRU list with a map of
// pointers took about 130 bytes per key (2 MiB full) and grew to that
// as new customers came.
type recentSet struct {
	mu       sync.Mutex
	half     int                   // keys per generation
	cur, old map[[16]byte]struct{} // the current and the older generation
}

// newRecentSet returns an empty set of at most size keys (size ≥ 2).
func newRecentSet(size int) *recentSet {
	half := max(size/2, 1)
	return &recentSet{half: half, cur: make(map[[16]byte]struct{}, half), old: make(map[[16]byte]struct{}, half)}
}

// Contains reports whether k is in the set.
func (r *recentSet) Contains(k [16]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cur[k]; ok {
		return true
	}
	_, ok := r.old[k]
	return ok
}

// Add puts k into the set, forgetting the older generation's keys when the
// current generation is full.
func (r *recentSet) Add(k [16]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cur[k]; ok {
		return
	}
	if len(r.cur) >= r.half {
		r.cur, r.old = r.old, r.cur
		clear(r.cur)
	}
	r.cur[k] = struct{}{}
}

// Purge empties the set.
func (r *recentSet) Purge() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.cur)
	clear(r.old)
}
