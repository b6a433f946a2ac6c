package reportsnap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/promolift/promolift/experiments"
)

// Source computes reports and tells whether new events arrived; an
// *experiments.Service is one.
type Source interface {
	Report(ctx context.Context, key string, opts experiments.ReportOptions) (*experiments.Report, error)
	// EventsMarker is a cheap value that changes whenever events are
	// stored (experiments.Service.EventsMarker).
	EventsMarker(ctx context.Context) (string, error)
}

// Config tunes Snapshots. Zero fields take their defaults.
type Config struct {
	// MinInterval is the least time between two refreshes of one
	// snapshot (default DefaultMinInterval). Negative: every read that
	// finds new events starts a refresh.
	MinInterval time.Duration
	// MaxAge is the age past which a snapshot is refreshed even without a
	// change of the events marker (default DefaultMaxAge).
	MaxAge time.Duration
	// Size is the number of snapshots kept (default DefaultSize).
	Size int
	// Timeout bounds one computation (default DefaultTimeout).
	Timeout time.Duration
	// Concurrency is the number of computations that run at once across
	// all experiments (default DefaultConcurrency); the others wait their
	// turn, so report computations never take more than that share of the
	// server and its database.
	Concurrency int
}

// Defaults of Config.
const (
	DefaultMinInterval = 10 * time.Second
	DefaultMaxAge      = 5 * time.Minute
	DefaultSize        = 256
	DefaultTimeout     = 10 * time.Minute
	DefaultConcurrency = 1
)

func (c Config) withDefaults() Config {
	if c.MinInterval == 0 {
		c.MinInterval = DefaultMinInterval
	}
	if c.MinInterval < 0 {
		c.MinInterval = 0
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Size <= 0 {
		c.Size = DefaultSize
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// Snapshots serves reports from snapshots (see the package doc). It is
// safe for concurrent use; Close stops it.
type Snapshots struct {
	src    Source
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	cache  *lru.Cache[string, *entry]
	flight singleflight.Group
	turns  chan struct{} // Concurrency tokens

	ctx     context.Context // the computations' parent, cancelled by Close
	cancel  context.CancelFunc
	running sync.WaitGroup // background refreshes

	computations atomic.Int64
}

// Snapshot is one computed report. It never changes: a refresh makes a
// new Snapshot.
type Snapshot struct {
	Report *experiments.Report

	mu   sync.Mutex
	memo map[string]*memoItem
}

type memoItem struct {
	once sync.Once
	b    []byte
	err  error
}

// Bytes returns build(s.Report), built once per key and Snapshot: callers
// keep the report's encodings (JSON, CSV, a page) with it, so that a read
// from a snapshot costs no encoding. The set of keys must be small.
func (s *Snapshot) Bytes(key string, build func(*experiments.Report) ([]byte, error)) ([]byte, error) {
	s.mu.Lock()
	if s.memo == nil {
		s.memo = map[string]*memoItem{}
	}
	it, ok := s.memo[key]
	if !ok {
		it = &memoItem{}
		s.memo[key] = it
	}
	s.mu.Unlock()
	it.once.Do(func() { it.b, it.err = build(s.Report) })
	return it.b, it.err
}

// entry is the snapshot of one experiment, mode and revision.
type entry struct {
	mu       sync.Mutex
	report   *Snapshot
	marker   string    // the events marker read before the computation
	computed time.Time // when the computation started
	checked  time.Time // when a refresh was last considered
}

// New returns Snapshots over src. log may be nil.
func New(src Source, cfg Config, log *slog.Logger) *Snapshots {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	cache, err := lru.New[string, *entry](cfg.Size)
	if err != nil { // only for a size ≤ 0, which withDefaults rules out
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Snapshots{src: src, cfg: cfg, log: log, now: time.Now, cache: cache, ctx: ctx, cancel: cancel,
		turns: make(chan struct{}, cfg.Concurrency)}
}

// SetClock replaces the clock that MinInterval and MaxAge are measured
// on, for tests.
func (s *Snapshots) SetClock(now func() time.Time) { s.now = now }

// Computations counts the report computations started so far.
func (s *Snapshots) Computations() int64 { return s.computations.Load() }

// Wait waits for the background refreshes started so far.
func (s *Snapshots) Wait() { s.running.Wait() }

// Close cancels the computations under way and waits for the background
// ones. Reads after Close fail.
func (s *Snapshots) Close() {
	s.cancel()
	s.running.Wait()
}

// Report answers the report of exp (its current definition, as the
// caller read it) from its snapshot (see Snapshot).
func (s *Snapshots) Report(ctx context.Context, exp *experiments.Experiment, opts experiments.ReportOptions) (*experiments.Report, error) {
	snap, err := s.Snapshot(ctx, exp, opts)
	if err != nil {
		return nil, err
	}
	return snap.Report, nil
}

// Snapshot answers the snapshot of exp's report (exp as the caller read
// it), waiting for a computation when there is none yet for exp's
// revision.
func (s *Snapshots) Snapshot(ctx context.Context, exp *experiments.Experiment, opts experiments.ReportOptions) (*Snapshot, error) {
	if opts.MultipleExposure == "" {
		opts.MultipleExposure = experiments.MultipleExclude
	}
	id := exp.Key + "\x00" + string(opts.MultipleExposure) + "\x00" + strconv.FormatInt(exp.Revision, 10)
	e, ok := s.cache.Get(id)
	if !ok {
		e = &entry{}
		if prev, found, _ := s.cache.PeekOrAdd(id, e); found {
			e = prev
		}
	}
	e.mu.Lock()
	r := e.report
	now := s.now()
	refresh := r != nil && now.Sub(e.checked) >= s.cfg.MinInterval
	if refresh {
		e.checked = now
	}
	e.mu.Unlock()
	if r != nil {
		if refresh {
			s.refresh(id, e, exp.Key, opts)
		}
		return r, nil
	}
	ch := s.flight.DoChan(id, func() (any, error) { return s.compute(id, e, exp.Key, opts, false) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Snapshot), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("report %s: %w", exp.Key, ctx.Err())
	}
}

// refresh recomputes e in the background when the events changed or it
// is older than MaxAge; it joins a computation already under way.
func (s *Snapshots) refresh(id string, e *entry, key string, opts experiments.ReportOptions) {
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		_, err, _ := s.flight.Do(id, func() (any, error) { return s.compute(id, e, key, opts, true) })
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("report snapshot refresh failed; the previous snapshot stays", "experiment", key, "err", err)
		}
	}()
}

// compute computes the report into e; with onlyIfChanged it first reads
// the events marker and keeps e when the marker is the one e was computed
// at and e is younger than MaxAge.
func (s *Snapshots) compute(id string, e *entry, key string, opts experiments.ReportOptions, onlyIfChanged bool) (any, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	marker, err := s.src.EventsMarker(ctx)
	if err != nil {
		return nil, fmt.Errorf("report %s: events marker: %w", key, err)
	}
	if onlyIfChanged {
		e.mu.Lock()
		same := e.report != nil && e.marker == marker && s.now().Sub(e.computed) < s.cfg.MaxAge
		r := e.report
		e.mu.Unlock()
		if same {
			return r, nil
		}
	}
	select {
	case s.turns <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("report %s: %w", key, ctx.Err())
	}
	started := s.now()
	s.computations.Add(1)
	r, err := s.src.Report(ctx, key, opts)
	<-s.turns
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Report: r}
	e.mu.Lock()
	e.report, e.marker, e.computed = snap, marker, started
	if e.checked.Before(started) {
		e.checked = started
	}
	e.mu.Unlock()
	// The entry may have been evicted meanwhile: put it back, since it now
	// holds the newest snapshot.
	s.cache.Add(id, e)
	return snap, nil
}
