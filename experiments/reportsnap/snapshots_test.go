package reportsnap

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/promolift/promolift/experiments"
)

func TestSnapshotBytesBuildsOncePerKey(t *testing.T) {
	snap := &Snapshot{Report: &experiments.Report{Currency: "KRW"}}
	var builds atomic.Int64
	build := func(r *experiments.Report) ([]byte, error) {
		builds.Add(1)
		return []byte(r.Currency), nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, key := range []string{"json", "csv", "json"} {
				b, err := snap.Bytes(key, build)
				if err != nil || string(b) != "KRW" {
					t.Errorf("Bytes(%s) = %q, %v", key, b, err)
				}
			}
		})
	}
	wg.Wait()
	if n := builds.Load(); n != 2 {
		t.Fatalf("%d builds for 2 keys read by 8 readers, want 2", n)
	}
	boom := errors.New("boom")
	if _, err := snap.Bytes("bad", func(*experiments.Report) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want the build's", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Config
		want Config
	}{
		{"zero", Config{}, Config{MinInterval: DefaultMinInterval, MaxAge: DefaultMaxAge, Size: DefaultSize, Timeout: DefaultTimeout,
			Concurrency: DefaultConcurrency}},
		{"negative interval", Config{MinInterval: -1, MaxAge: 1, Size: 1, Timeout: 1, Concurrency: 3},
			Config{MinInterval: 0, MaxAge: 1, Size: 1, Timeout: 1, Concurrency: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Fatalf("withDefaults(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}
