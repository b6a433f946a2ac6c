package experiments

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Exposures by group commit (DESIGN.md §10, issue 17). Assign, the OFREP
// evaluation and flags that delegate to an experiment log their exposures
// through one exposureBatcher per Service: concurrent requests put their
// exposures into one shared store transaction (Store.IngestEvents of the
// whole batch), and each request answers only after the transaction
// holding its exposures committed. A store error fails every request of
// the batch, and the transaction leaves nothing of it behind.
//
// A batch is committed when it holds MaxEvents exposures or when its
// oldest request has waited MaxWait, whichever comes first; while one
// batch commits, the next one fills, so under load batches grow with the
// commit time without any wait. The exposures of one request always go in
// one batch (a request with more than MaxEvents exposures is a batch of
// its own). One batch is in flight at a time by default. A store with
// lanes (IngestLanes; PostgreSQL) can have one such queue per lane
// instead (SetExposureLanes(0)), each request in the lane of its first
// exposure's unit, and the lanes' batches commit side by side, so that a
// batch waiting in the database holds up only its lane. That costs CPU:
// each batch pays its round trips, statement start, triggers and WAL
// flush, and with the same requests over two lanes the batches are half
// as large (BenchmarkServing, 64 clients: the server, PostgreSQL and the
// load generator spent 650–700 µs per assign with two lanes, 400–480 µs
// with one), while one lane commits 64 waiting requests in one batch
// within a WAL flush or two.
//
// Repeat exposures the store would drop anyway (the same experiment,
// bucket version, unit, variant and UTC day: the same ExposureID) are
// answered from a bounded in-memory set of the exposure IDs committed
// recently, without waiting for a batch. The set only ever skips an
// exposure the store holds (it is filled after commit), and it starts
// empty: after a restart the store's dedupe drops the repeats as before.

// Defaults of the exposure batching (see SetExposureBatching).
const (
	// DefaultExposureBatchEvents is the most exposures in one transaction.
	DefaultExposureBatchEvents = 256
	// DefaultExposureBatchWait is the longest a request waits for its
	// batch to fill before the batch is committed.
	DefaultExposureBatchWait = time.Millisecond
	// DefaultExposureLanes is SetExposureLanes' default: one batch in
	// flight at a time.
	DefaultExposureLanes = 1
	// MaxExposureBatchEvents bounds SetExposureBatching's maxEvents.
	MaxExposureBatchEvents = 10_000
	// recentExposures is the size of the set of recently committed
	// exposure IDs and links (recentSet: it holds the last half to all of
	// them).
	recentExposures = 16_384
	// exposureCommitTimeout bounds one batch's store transaction.
	exposureCommitTimeout = 30 * time.Second
)

// exposureBatcher is the group commit of exposures: one lane per batch
// that may be in flight at once (see IngestLanes), each with its own queue
// and commit loop, started when a request finds none running and
// returning when its queue is empty.
type exposureBatcher struct {
	s *Service

	maxEvents atomic.Int64
	maxWait   atomic.Int64 // nanoseconds

	mu    sync.Mutex
	lanes []*exposureLane
	// laneOf returns the lane of a unit (lanes has one lane: nil).
	laneOf   func(unitID string) int
	stats    ExposureBatchStats // under mu
	inFlight int                // transactions in flight, under mu

	recent *recentSet
}

// exposureLane is one queue of the group commit: its batches are
// committed one after another.
type exposureLane struct {
	b *exposureBatcher

	mu      sync.Mutex
	queue   []*exposureWaiter
	queued  int           // exposures in queue
	running bool          // a commit loop runs
	full    chan struct{} // signalled when queued reaches maxEvents
}

// IngestLanes is an optional store capability: a store that commits
// ingests of units of different lanes side by side without one waiting for
// the other (PostgreSQL: the lanes are disjoint sets of the unit buckets
// whose locks serialize rollup maintenance). The group commit of exposures
// then keeps one batch per lane in flight, so one batch's commit (its WAL
// flush) no longer holds up the next. A store without it (SQLite: one
// writer) commits one batch at a time.
type IngestLanes interface {
	// IngestLanes is the number of lanes (at least 1).
	IngestLanes() int
	// IngestLane is the lane of unitID, from 0 to IngestLanes()-1.
	IngestLane(unitID string) int
}

// ExposureBatchStats counts the group commits of exposures since the
// Service started.
type ExposureBatchStats struct {
	Batches int64 // store transactions committed
	Failed  int64 // store transactions that failed
	Events  int64 // exposures in the committed transactions
	Largest int   // the most exposures in one transaction (failed ones included)
	Skipped int64 // exposures answered from the recent set, without a transaction
	// Folded is how many exposures this Service's folds took from the
	// exposure journal (exposurejournal.go), duplicates included; Backlog
	// how many it appended that are not known folded yet; FoldFailing
	// whether the fold gave up after failing and the group commit bypasses
	// the journal until it succeeds again.
	Folded      int64
	Backlog     int
	FoldFailing bool
	// InFlight is the most transactions that were in flight at once.
	InFlight int
}

// ExposureBatches returns the counts of the group commit of exposures.
func (s *Service) ExposureBatches() ExposureBatchStats {
	b := s.exposures
	b.mu.Lock()
	st := b.stats
	b.mu.Unlock()
	st.Folded, st.Backlog, st.FoldFailing = s.folder.counts()
	return st
}

// exposureWaiter is one request's exposures and the channel its batch's
// outcome is sent on.
type exposureWaiter struct {
	events []Event
	exps   map[string]*Experiment // the snapshot's experiments, which the events name
	at     time.Time
	done   chan error
}

func newExposureBatcher(s *Service) *exposureBatcher {
	b := &exposureBatcher{s: s, recent: newRecentSet(recentExposures)}
	b.maxEvents.Store(DefaultExposureBatchEvents)
	b.maxWait.Store(int64(DefaultExposureBatchWait))
	b.setLanes(DefaultExposureLanes)
	return b
}

// setLanes replaces the lanes with n empty ones; the old lanes commit what
// they hold.
func (b *exposureBatcher) setLanes(n int) {
	lanes := make([]*exposureLane, n)
	for i := range lanes {
		lanes[i] = &exposureLane{b: b, full: make(chan struct{}, 1)}
	}
	b.mu.Lock()
	b.lanes = lanes
	b.mu.Unlock()
}

// SetExposureBatching sets the group commit of exposures: at most
// maxEvents exposures per store transaction (1 to MaxExposureBatchEvents;
// default DefaultExposureBatchEvents) and at most maxWait (0 or more;
// default DefaultExposureBatchWait) that a request waits for its batch to
// fill. maxWait 0 commits what is queued as soon as the previous batch
// of its lane is done.
func (s *Service) SetExposureBatching(maxEvents int, maxWait time.Duration) error {
	if maxEvents < 1 || maxEvents > MaxExposureBatchEvents {
		return Invalid("exposure_batch_events", "out_of_range", "must be between 1 and %d", MaxExposureBatchEvents)
	}
	if maxWait < 0 {
		return Invalid("exposure_batch_wait", "out_of_range", "must not be negative")
	}
	s.exposures.maxEvents.Store(int64(maxEvents))
	s.exposures.maxWait.Store(int64(maxWait))
	return nil
}

// SetExposureLanes sets how many exposure batches may be in flight at once
// to 1 (one batch at a time, the default) or, with 0, to the store's lanes
// (see IngestLanes; 1 for a store without them).
func (s *Service) SetExposureLanes(n int) error {
	if n < 0 || n > 1 {
		return Invalid("exposure_lanes", "out_of_range", "must be 0 (the store's lanes) or 1")
	}
	lanes, laneOf := 1, (func(string) int)(nil)
	if l, ok := s.store.(IngestLanes); ok && n == 0 && l.IngestLanes() > 1 {
		lanes, laneOf = l.IngestLanes(), l.IngestLane
	}
	s.exposures.mu.Lock()
	s.exposures.laneOf = laneOf
	s.exposures.mu.Unlock()
	s.exposures.setLanes(lanes)
	return nil
}

// recentKey is the key of exposure ID id in the recent set: its first 16
// bytes (the ID is the hex SHA-256 of the exposure's identity), and false
// for an ID of another form.
func recentKey(id string) ([16]byte, bool) {
	var k [16]byte
	if len(id) != 64 {
		return k, false
	}
	if _, err := hex.Decode(k[:], []byte(id[:32])); err != nil {
		return k, false
	}
	return k, true
}

// fresh returns the events whose IDs were not committed recently, or
// whose link to a customer (links.go) was not: the same device exposed on
// one day for a second customer is linked to that customer too.
func (b *exposureBatcher) fresh(events []Event) []Event {
	out := events[:0:0]
	for i := range events {
		if k, ok := recentKey(events[i].ID); ok && b.recent.Contains(k) {
			if l, linked := events[i].Link(); !linked || b.recent.Contains(linkKey(l)) {
				continue
			}
		}
		out = append(out, events[i])
	}
	if skipped := len(events) - len(out); skipped > 0 {
		b.mu.Lock()
		b.stats.Skipped += int64(skipped)
		b.mu.Unlock()
	}
	return out
}

// forget empties the recent set: after an erasure the store no longer
// holds the exposures and links it names.
func (b *exposureBatcher) forget() { b.recent.Purge() }

// lane returns the lane of a request's exposures: the lane of its first
// exposure's unit.
func (b *exposureBatcher) lane(events []Event) *exposureLane {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.laneOf == nil || len(b.lanes) == 1 {
		return b.lanes[0]
	}
	i := b.laneOf(events[0].UnitID)
	if i < 0 || i >= len(b.lanes) {
		i = 0
	}
	return b.lanes[i]
}

// submit queues one request's exposures and waits until the transaction
// holding them committed (nil) or failed (a KindUnavailable error). When
// ctx ends first, submit returns its error; the exposures may still be
// committed with their batch.
func (b *exposureBatcher) submit(ctx context.Context, exps map[string]*Experiment, events []Event) error {
	l := b.lane(events)
	w := &exposureWaiter{events: events, exps: exps, at: time.Now(), done: make(chan error, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, w)
	l.queued += len(events)
	if l.queued >= int(b.maxEvents.Load()) {
		l.signalFull()
	}
	if !l.running {
		l.running = true
		go l.loop()
	}
	l.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signalFull wakes the loop waiting for the batch to fill; l.mu is held.
func (l *exposureLane) signalFull() {
	select {
	case l.full <- struct{}{}:
	default:
	}
}

// loop commits batches until the queue is empty.
func (l *exposureLane) loop() {
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		wait := time.Until(l.queue[0].at.Add(time.Duration(l.b.maxWait.Load())))
		filled := l.queued >= int(l.b.maxEvents.Load())
		l.mu.Unlock()
		if !filled && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-l.full:
			}
			t.Stop()
		}
		l.b.s.folder.waitRoom()
		l.b.commit(l.take())
	}
}

// take removes the next batch from the queue: the oldest requests whose
// exposures fit in maxEvents, at least one.
func (l *exposureLane) take() []*exposureWaiter {
	maxEvents := int(l.b.maxEvents.Load())
	l.mu.Lock()
	defer l.mu.Unlock()
	n, events := 0, 0
	for n < len(l.queue) && (n == 0 || events+len(l.queue[n].events) <= maxEvents) {
		events += len(l.queue[n].events)
		n++
	}
	batch := make([]*exposureWaiter, n)
	copy(batch, l.queue)
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	l.queued -= events
	select { // a signal for the batch just taken is stale
	case <-l.full:
	default:
	}
	if l.queued >= maxEvents {
		l.signalFull()
	}
	return batch
}

// commit stores the exposures of batch in one transaction and answers its
// requests.
func (b *exposureBatcher) commit(batch []*exposureWaiter) {
	var events []Event
	exps := map[string]*Experiment{}
	for _, w := range batch {
		events = append(events, w.events...)
		for i := range w.events {
			if x := w.exps[w.events[i].Experiment]; x != nil {
				exps[x.Key] = x
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), exposureCommitTimeout)
	defer cancel()
	b.begin()
	// The exposures come from the caller environment's own snapshot, so the
	// batch is checked as one principal of every environment, against the
	// experiments of those snapshots and the consent Assign read (no store
	// read for either).
	save := b.s.store.IngestEvents
	if b.s.folder.journals(exps) {
		save = b.s.folder.append
	}
	outcomes, err := b.s.ingestEvents(ctx, Principal{}, events, exps, true, save)
	b.count(len(events), err)
	if err != nil {
		if KindOf(err) != KindUnavailable {
			err = Unavailable(err)
		}
		err = fmt.Errorf("log exposures: %w", err)
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	for _, o := range outcomes {
		ev := &events[o.Index]
		if o.Status == EventRejected {
			if o.Err != ErrOptedOut { // customers.go: expected, not logged
				b.s.log.Warn("exposure rejected", "experiment", ev.Experiment, "err", o.Err)
			}
			continue
		}
		if k, ok := recentKey(ev.ID); ok {
			b.recent.Add(k)
		}
		if l, ok := ev.Link(); ok {
			b.recent.Add(linkKey(l))
		}
	}
	for _, w := range batch {
		w.done <- nil
	}
}

// begin records a batch going in flight.
func (b *exposureBatcher) begin() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight++
	b.stats.InFlight = max(b.stats.InFlight, b.inFlight)
}

// count records the end of one batch of n exposures in the stats.
func (b *exposureBatcher) count(n int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight--
	b.stats.Largest = max(b.stats.Largest, n)
	if err != nil {
		b.stats.Failed++
		return
	}
	b.stats.Batches++
	b.stats.Events += int64(n)
}
