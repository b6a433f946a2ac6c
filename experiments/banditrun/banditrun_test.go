package banditrun

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// source counts passes; a pass blocks until release is closed (when set)
// and fails with err.
type source struct {
	passes  atomic.Int32
	started chan struct{}
	release chan struct{}
	err     error
}

func (s *source) UpdateBandits(ctx context.Context) (int, error) {
	s.passes.Add(1)
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return 1, s.err
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestTickSingleFlight: a tick while a pass runs is skipped.
func TestTickSingleFlight(t *testing.T) {
	src := &source{started: make(chan struct{}, 1), release: make(chan struct{})}
	u := New(src, time.Hour, quiet)
	done := make(chan bool)
	go func() { done <- u.Tick(context.Background()) }()
	<-src.started
	if u.Tick(context.Background()) {
		t.Error("a second tick ran while the first pass was in flight")
	}
	close(src.release)
	if !<-done {
		t.Error("the first tick did not run")
	}
	src.started = nil
	if !u.Tick(context.Background()) || src.passes.Load() != 2 {
		t.Errorf("after the pass: %d passes, want 2", src.passes.Load())
	}
}

// TestRunStops: Run passes at once and on every tick, keeps going after a
// failed pass, and returns once its context is cancelled, cancelling the
// pass in flight.
func TestRunStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  *source
	}{
		{"failing passes", &source{err: errors.New("store down")}},
		{"blocked pass", &source{release: make(chan struct{})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := New(tc.src, time.Millisecond, quiet)
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { u.Run(ctx); close(stopped) }()
			deadline := time.Now().Add(10 * time.Second)
			want := int32(3)
			if tc.src.release != nil {
				want = 1
			}
			for tc.src.passes.Load() < want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if tc.src.passes.Load() < want {
				t.Fatalf("%d passes, want at least %d", tc.src.passes.Load(), want)
			}
			cancel()
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			n := tc.src.passes.Load()
			time.Sleep(5 * time.Millisecond)
			if tc.src.passes.Load() != n {
				t.Error("passes after Run returned")
			}
		})
	}
}

// TestDefaultInterval: a zero interval takes the default.
func TestDefaultInterval(t *testing.T) {
	if u := New(&source{}, 0, quiet); u.interval != DefaultInterval {
		t.Errorf("interval %v, want %v", u.interval, DefaultInterval)
	}
}
