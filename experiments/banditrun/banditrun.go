package banditrun

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Source updates the bandit experiments; an *experiments.Service is one.
type Source interface {
	// UpdateBandits brings every running bandit experiment up to the
	// current period and returns how many it looked at.
	UpdateBandits(ctx context.Context) (int, error)
}

// DefaultInterval is the time between two passes when Config leaves it
// zero: a period boundary is acted on within about a minute.
const DefaultInterval = time.Minute

// Updater runs the passes.
type Updater struct {
	src      Source
	interval time.Duration
	log      *slog.Logger
	mu       sync.Mutex // held by the pass in flight
}

// New returns an updater of src that runs a pass every interval (0:
// DefaultInterval).
func New(src Source, interval time.Duration, log *slog.Logger) *Updater {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Updater{src: src, interval: interval, log: log}
}

// Run runs a pass at once and then every interval until ctx is cancelled.
func (u *Updater) Run(ctx context.Context) {
	t := time.NewTicker(u.interval)
	defer t.Stop()
	for {
		u.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick runs one pass unless one is in flight; it reports whether it ran.
func (u *Updater) Tick(ctx context.Context) bool {
	if !u.mu.TryLock() {
		return false
	}
	defer u.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	n, err := u.src.UpdateBandits(ctx)
	if err != nil && ctx.Err() == nil {
		u.log.Warn("bandit update pass failed", "err", err)
		return true
	}
	if n > 0 {
		u.log.Debug("bandit update pass", "experiments", n)
	}
	return true
}
