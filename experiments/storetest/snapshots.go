package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/reportsnap"
)

// gatedSource is a Service whose report computations wait on gate (when
// set) and are counted.
type gatedSource struct {
	*experiments.Service
	gate    chan struct{}
	reports atomic.Int64
}

func (g *gatedSource) Report(ctx context.Context, key string, opts experiments.ReportOptions) (*experiments.Report, error) {
	g.reports.Add(1)
	if g.gate != nil {
		<-g.gate
	}
	return g.Service.Report(ctx, key, opts)
}

// overlapSource is a Service that records the most report computations
// under way at once. Each computation lingers until a second one starts
// or a moment has passed, so that overlapping computations do overlap.
type overlapSource struct {
	*experiments.Service
	mu          sync.Mutex
	now         int64
	most        atomic.Int64
	overlapping chan struct{}
}

func (o *overlapSource) Report(ctx context.Context, key string, opts experiments.ReportOptions) (*experiments.Report, error) {
	o.mu.Lock()
	o.now++
	if o.now > o.most.Load() {
		o.most.Store(o.now)
	}
	if o.overlapping == nil {
		o.overlapping = make(chan struct{})
	}
	ch := o.overlapping
	if o.now > 1 {
		close(ch)
		o.overlapping = make(chan struct{})
	}
	o.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(100 * time.Millisecond):
	}
	defer func() {
		o.mu.Lock()
		o.now--
		o.mu.Unlock()
	}()
	return o.Service.Report(ctx, key, opts)
}

// snapClock is a clock the test moves by hand.
type snapClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *snapClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *snapClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// snapEnv is a store holding experiment "snap" with the events of
// fixture() renamed to it, a Service and Snapshots over it on one clock.
type snapEnv struct {
	store experiments.Store
	src   *gatedSource
	snaps *reportsnap.Snapshots
	clock *snapClock
	exp   *experiments.Experiment
}

const (
	snapInterval = time.Minute
	snapMaxAge   = time.Hour
)

func newSnapEnv(t *testing.T, newStore func(t *testing.T) experiments.Store) *snapEnv {
	t.Helper()
	s := newStore(t)
	e := &snapEnv{store: s, clock: &snapClock{now: t0.Add(200 * time.Hour)}}
	e.exp = createExp(t, s, "snap", 24*time.Hour)
	var evs []experiments.Event
	for _, ev := range fixture() {
		ev.ID = "snap-" + ev.ID
		if ev.Experiment != "" {
			ev.Experiment = "snap"
		}
		evs = append(evs, ev)
	}
	ingest(t, s, evs)
	svc := experiments.NewService(s, nil)
	svc.SetClock(e.clock.Now)
	e.src = &gatedSource{Service: svc}
	e.snaps = reportsnap.New(e.src, reportsnap.Config{MinInterval: snapInterval, MaxAge: snapMaxAge}, nil)
	e.snaps.SetClock(e.clock.Now)
	t.Cleanup(e.snaps.Close)
	return e
}

func (e *snapEnv) read(t *testing.T) *experiments.Report {
	t.Helper()
	r, err := e.snaps.Report(ctx(t), e.exp, experiments.ReportOptions{})
	must(t, err)
	return r
}

func units(r *experiments.Report) int64 {
	var n int64
	for _, v := range r.Variants {
		n += v.Units
	}
	return n
}

// testSnapshots checks the report snapshots (package reportsnap) over the
// store, with its events marker (experiments.EventsMarker).
func testSnapshots(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	t.Run("Marker", func(t *testing.T) {
		s := newStore(t)
		m, ok := s.(experiments.EventsMarker)
		if !ok {
			t.Fatalf("%T has no EventsMarker", s)
		}
		before, err := m.EventsMarker(ctx(t))
		must(t, err)
		createExp(t, s, "mark", 24*time.Hour)
		ingest(t, s, []experiments.Event{exposure("m1", "u1", "mark", "control", 0, nil, "")})
		after, err := m.EventsMarker(ctx(t))
		must(t, err)
		if after == before {
			t.Fatalf("EventsMarker %q did not change when an event was stored", before)
		}
		// Writes that store no event leave it where it is: a duplicate, a
		// new experiment (PostgreSQL's old marker, the transaction horizon,
		// moved with every write of the cluster).
		ingest(t, s, []experiments.Event{exposure("m1", "u1", "mark", "control", 0, nil, "")})
		createExp(t, s, "mark-2", 24*time.Hour)
		again, err := m.EventsMarker(ctx(t))
		must(t, err)
		if again != after {
			t.Fatalf("EventsMarker moved from %q to %q with no new event", after, again)
		}
	})
	t.Run("SingleFlight", func(t *testing.T) {
		e := newSnapEnv(t, newStore)
		e.src.gate = make(chan struct{})
		const readers = 16
		got := make([]*experiments.Report, readers)
		var wg sync.WaitGroup
		for i := range readers {
			wg.Go(func() {
				r, err := e.snaps.Report(context.Background(), e.exp, experiments.ReportOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = r
			})
		}
		close(e.src.gate)
		wg.Wait()
		if n := e.src.reports.Load(); n != 1 {
			t.Fatalf("%d concurrent first reads ran %d computations, want 1", readers, n)
		}
		for i, r := range got {
			if r != got[0] {
				t.Fatalf("reader %d got another report than reader 0", i)
			}
		}
		if units(got[0]) != 4 {
			t.Fatalf("the report counts %d units, want 4", units(got[0]))
		}
	})
	t.Run("RefreshAfterNewEvents", func(t *testing.T) {
		e := newSnapEnv(t, newStore)
		first := e.read(t)
		if !first.GeneratedAt.Equal(e.clock.Now()) {
			t.Fatalf("as of %s, want the time of its computation %s", first.GeneratedAt, e.clock.Now())
		}
		ingest(t, e.store, []experiments.Event{exposure("snap-new", "u9", "snap", "control", 3*time.Hour, nil, "")})
		// Within the minimum interval: the snapshot, no computation.
		e.clock.Add(snapInterval / 2)
		if r := e.read(t); r != first {
			t.Fatal("a read within the minimum interval did not answer from the snapshot")
		}
		e.snaps.Wait()
		if n := e.src.reports.Load(); n != 1 {
			t.Fatalf("%d computations within the minimum interval, want 1", n)
		}
		// Past it: the read still answers the snapshot at once and starts
		// the refresh, which sees the new event.
		e.clock.Add(snapInterval / 2)
		if r := e.read(t); r != first {
			t.Fatal("the read that starts a refresh did not answer from the snapshot")
		}
		e.snaps.Wait()
		if n := e.src.reports.Load(); n != 2 {
			t.Fatalf("%d computations after new events past the minimum interval, want 2", n)
		}
		second := e.read(t)
		if units(first) != 4 || units(second) != 5 {
			t.Fatalf("units %d then %d, want 4 then 5", units(first), units(second))
		}
		if !second.GeneratedAt.After(first.GeneratedAt) {
			t.Fatalf("the refreshed snapshot is as of %s, not after %s", second.GeneratedAt, first.GeneratedAt)
		}
	})
	t.Run("NoNewEvents", func(t *testing.T) {
		e := newSnapEnv(t, newStore)
		first := e.read(t)
		for range 3 {
			e.clock.Add(snapInterval)
			if r := e.read(t); r != first {
				t.Fatal("a read without new events got another report")
			}
			e.snaps.Wait()
		}
		if n := e.src.reports.Load(); n != 1 {
			t.Fatalf("%d computations without new events, want 1", n)
		}
		// Past MaxAge a snapshot is recomputed anyway.
		e.clock.Add(snapMaxAge)
		e.read(t)
		e.snaps.Wait()
		if r := e.read(t); r == first {
			t.Fatal("a snapshot older than MaxAge was not recomputed")
		}
	})
	t.Run("NewRevisionWaits", func(t *testing.T) {
		e := newSnapEnv(t, newStore)
		first := e.read(t)
		changed := *e.exp
		changed.Name = "renamed"
		must(t, e.store.UpdateExperiment(ctx(t), &changed))
		e.exp = &changed
		r := e.read(t)
		if r == first || r.Experiment.Name != "renamed" {
			t.Fatalf("after a change of the experiment the read answered the old snapshot (name %q)", r.Experiment.Name)
		}
	})
	t.Run("FailureNotCached", func(t *testing.T) {
		e := newSnapEnv(t, newStore)
		gone := &experiments.Experiment{Key: "nope", Revision: 1}
		for i := 1; i <= 2; i++ {
			_, err := e.snaps.Report(ctx(t), gone, experiments.ReportOptions{})
			wantKind(t, err, experiments.KindNotFound)
			if n := e.src.reports.Load(); n != int64(i) {
				t.Fatalf("read %d of a failing report: %d computations, want %d", i, n, i)
			}
		}
	})
	t.Run("Concurrency", func(t *testing.T) {
		s := newStore(t)
		src := &overlapSource{Service: experiments.NewService(s, nil)}
		snaps := reportsnap.New(src, reportsnap.Config{Concurrency: 1}, nil)
		t.Cleanup(snaps.Close)
		var exps []*experiments.Experiment
		for _, k := range []string{"conc-a", "conc-b", "conc-c"} {
			exps = append(exps, createExp(t, s, k, time.Hour))
		}
		var wg sync.WaitGroup
		for _, exp := range exps {
			wg.Go(func() {
				if _, err := snaps.Report(context.Background(), exp, experiments.ReportOptions{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := src.most.Load(); n != 1 {
			t.Fatalf("%d computations ran at once with Concurrency 1", n)
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		s := newStore(t)
		svc := experiments.NewService(s, nil)
		src := &gatedSource{Service: svc}
		snaps := reportsnap.New(src, reportsnap.Config{Size: 1, MinInterval: time.Hour}, nil)
		t.Cleanup(snaps.Close)
		a, b := createExp(t, s, "snap-a", time.Hour), createExp(t, s, "snap-b", time.Hour)
		for _, exp := range []*experiments.Experiment{a, a, b, a} {
			_, err := snaps.Report(ctx(t), exp, experiments.ReportOptions{})
			must(t, err)
		}
		// a, (a from the snapshot), b evicts a, a again.
		if n := src.reports.Load(); n != 3 {
			t.Fatalf("%d computations with one snapshot kept, want 3", n)
		}
	})
}
