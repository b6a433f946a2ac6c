package experiments

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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
// its own).
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
	// MaxExposureBatchEvents bounds SetExposureBatching's maxEvents.
	MaxExposureBatchEvents = 10_000
	// recentExposures bounds the set of recently committed exposure IDs.
	recentExposures = 16_384
	// exposureCommitTimeout bounds one batch's store transaction.
	exposureCommitTimeout = 30 * time.Second
)

// exposureBatcher is the group commit of exposures. Its commit loop runs
// in a goroutine started when a request finds none, which returns when the
// queue is empty.
type exposureBatcher struct {
	s *Service

	mu        sync.Mutex
	maxEvents int
	maxWait   time.Duration
	queue     []*exposureWaiter
	queued    int           // exposures in queue
	running   bool          // a commit loop runs
	full      chan struct{} // signalled when queued reaches maxEvents

	recent *lru.Cache[[16]byte, struct{}]
	stats  ExposureBatchStats // under mu
}

// ExposureBatchStats counts the group commits of exposures since the
// Service started.
type ExposureBatchStats struct {
	Batches int64 // store transactions committed
	Failed  int64 // store transactions that failed
	Events  int64 // exposures in the committed transactions
	Largest int   // the most exposures in one transaction (failed ones included)
	Skipped int64 // exposures answered from the recent set, without a transaction
}

// ExposureBatches returns the counts of the group commit of exposures.
func (s *Service) ExposureBatches() ExposureBatchStats {
	b := s.exposures
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// exposureWaiter is one request's exposures and the channel its batch's
// outcome is sent on.
type exposureWaiter struct {
	events []Event
	at     time.Time
	done   chan error
}

func newExposureBatcher(s *Service) *exposureBatcher {
	recent, _ := lru.New[[16]byte, struct{}](recentExposures) // only fails for a size ≤ 0
	return &exposureBatcher{s: s, maxEvents: DefaultExposureBatchEvents, maxWait: DefaultExposureBatchWait,
		full: make(chan struct{}, 1), recent: recent}
}

// SetExposureBatching sets the group commit of exposures: at most
// maxEvents exposures per store transaction (1 to MaxExposureBatchEvents;
// default DefaultExposureBatchEvents) and at most maxWait (0 or more;
// default DefaultExposureBatchWait) that a request waits for its batch to
// fill. maxWait 0 commits what is queued as soon as the previous batch
// is done.
func (s *Service) SetExposureBatching(maxEvents int, maxWait time.Duration) error {
	if maxEvents < 1 || maxEvents > MaxExposureBatchEvents {
		return Invalid("exposure_batch_events", "out_of_range", "must be between 1 and %d", MaxExposureBatchEvents)
	}
	if maxWait < 0 {
		return Invalid("exposure_batch_wait", "out_of_range", "must not be negative")
	}
	b := s.exposures
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maxEvents, b.maxWait = maxEvents, maxWait
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

// submit queues one request's exposures and waits until the transaction
// holding them committed (nil) or failed (a KindUnavailable error). When
// ctx ends first, submit returns its error; the exposures may still be
// committed with their batch.
func (b *exposureBatcher) submit(ctx context.Context, events []Event) error {
	w := &exposureWaiter{events: events, at: time.Now(), done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, w)
	b.queued += len(events)
	if b.queued >= b.maxEvents {
		b.signalFull()
	}
	if !b.running {
		b.running = true
		go b.loop()
	}
	b.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signalFull wakes the loop waiting for the batch to fill; b.mu is held.
func (b *exposureBatcher) signalFull() {
	select {
	case b.full <- struct{}{}:
	default:
	}
}

// loop commits batches until the queue is empty.
func (b *exposureBatcher) loop() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		wait := time.Until(b.queue[0].at.Add(b.maxWait))
		filled := b.queued >= b.maxEvents
		b.mu.Unlock()
		if !filled && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-b.full:
			}
			t.Stop()
		}
		b.commit(b.take())
	}
}

// take removes the next batch from the queue: the oldest requests whose
// exposures fit in maxEvents, at least one.
func (b *exposureBatcher) take() []*exposureWaiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, events := 0, 0
	for n < len(b.queue) && (n == 0 || events+len(b.queue[n].events) <= b.maxEvents) {
		events += len(b.queue[n].events)
		n++
	}
	batch := make([]*exposureWaiter, n)
	copy(batch, b.queue)
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	b.queued -= events
	select { // a signal for the batch just taken is stale
	case <-b.full:
	default:
	}
	if b.queued >= b.maxEvents {
		b.signalFull()
	}
	return batch
}

// commit stores the exposures of batch in one transaction and answers its
// requests.
func (b *exposureBatcher) commit(batch []*exposureWaiter) {
	var events []Event
	for _, w := range batch {
		events = append(events, w.events...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), exposureCommitTimeout)
	defer cancel()
	// The exposures come from the caller environment's own snapshot, so the
	// batch is checked as one principal of every environment.
	outcomes, err := b.s.IngestEvents(ctx, Principal{}, events)
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
			b.recent.Add(k, struct{}{})
		}
		if l, ok := ev.Link(); ok {
			b.recent.Add(linkKey(l), struct{}{})
		}
	}
	for _, w := range batch {
		w.done <- nil
	}
}

// count records one batch of n exposures in the stats.
func (b *exposureBatcher) count(n int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.Largest = max(b.stats.Largest, n)
	if err != nil {
		b.stats.Failed++
		return
	}
	b.stats.Batches++
	b.stats.Events += int64(n)
}
