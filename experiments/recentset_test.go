package experiments

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// key is the i-th test key of a recent set.
func key(i int) [16]byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[8:], uint64(i))
	return k
}

// TestRecentSetKeepsTheNewestKeys adds keys one by one and checks after
// each that the set holds the last size/2 added at least and never more
// than size, and that Purge empties it.
func TestRecentSetKeepsTheNewestKeys(t *testing.T) {
	const size = 8
	r := newRecentSet(size)
	for n := 1; n <= 5*size; n++ {
		r.Add(key(n - 1))
		held := 0
		for i := 0; i < n; i++ {
			if r.Contains(key(i)) {
				held++
				continue
			}
			if i >= n-size/2 {
				t.Fatalf("after %d keys, key %d (one of the last %d) is missing", n, i, size/2)
			}
		}
		if held > size || held < min(n, size/2) {
			t.Fatalf("after %d keys the set holds %d, want %d to %d", n, held, min(n, size/2), size)
		}
	}
	r.Add(key(0)) // added again: new
	if !r.Contains(key(0)) {
		t.Fatal("a key added again is missing")
	}
	r.Purge()
	for i := 0; i < 5*size; i++ {
		if r.Contains(key(i)) {
			t.Fatalf("key %d left after Purge", i)
		}
	}
}

// TestRecentSetMemoryIsFixed checks that the set allocates nothing once
// built: filling it several times over, and again after a Purge, reuses the
// storage made up front, so the server's heap does not grow as new
// customers come. (Without the storage made up front the fills allocate
// about 0.5 MiB.)
func TestRecentSetMemoryIsFixed(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := newRecentSet(recentExposures)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 3 * recentExposures {
		r.Add(key(i))
	}
	r.Purge()
	for i := range recentExposures {
		r.Add(key(i))
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<10 {
		t.Errorf("adding %d keys allocated %d bytes, want none", 4*recentExposures, grew)
	}
}
