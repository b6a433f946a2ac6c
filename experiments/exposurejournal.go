package experiments

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// The exposure journal (DESIGN.md §10, issue 17). With the journal on
// (SetExposureJournal; `promolift serve` turns it on for PostgreSQL) and a
// store that keeps one (ExposureJournal: both SQL stores), the group commit of exposures
// (exposurebatch.go) appends each batch to the journal as one row, in a
// transaction of its own, and answers the batch's requests once it has
// committed: an acknowledged exposure is stored durably, as before. A
// fold in the background then moves the oldest rows, a few thousand
// exposures at a time, into the events and the rollups, in the
// transaction that deletes them, so that an exposure is in the journal or
// in the events, never both nor neither.
//
// This takes the rollups' cost out of the request's wait, and pays the
// per-transaction costs (the commit's WAL flush, the batch's statements)
// once per fold of thousands instead of once per batch of tens. What it
// gives up is "acknowledged = in every rollup" for exposures: a report
// counts an exposure once the fold has taken it, normally within a
// fraction of a second. So that no reader sees less than what was
// acknowledged before it asked, the readers that must be exact fold the
// journal first (FoldExposureJournal): a report computation (its as-of time
// then covers every exposure acknowledged before it), an erasure (no
// erased customer's exposure stays behind in the journal nor is folded in
// after it) and `promolift check`; `promolift serve` folds it at shutdown
// and resumes the fold of what it finds at start. Exposures of an experiment with a
// frequency cap are ingested directly, as before the journal: the cap
// counts stored exposures when it assigns.
//
// The journal is bounded: when more than MaxJournalBacklog exposures
// appended by this Service wait to be folded, the group commit waits for
// the fold before it commits its next batch, so under a load the fold
// cannot keep up with, assignment slows to the fold's pace instead of the
// journal growing without end.
//
// A fold that keeps failing (journalRetries times in a row: a row it
// cannot fold, or a store error that lasts) must not hold assignment up
// with it: the group commit then ingests its batches directly, as without
// the journal, so they are neither stuck behind the fold nor add to its
// backlog, and tries the fold again in the background every
// journalRecheck while batches arrive; the first fold that succeeds puts
// the batches back on the journal. Until then the error is logged at each
// attempt and a report computation, which folds first, fails with it.

// ExposureJournal is an optional store capability: a journal of exposure
// batches, appended cheaply and folded into the events later.
type ExposureJournal interface {
	// AppendExposures appends valid events as one journal row, in one
	// transaction: when it returns nil, they are stored durably.
	AppendExposures(ctx context.Context, events []Event) error
	// FoldExposures moves the oldest journal rows with seq <= through,
	// about maxEvents events, into the events and the rollups as
	// IngestEvents would, deleting them in the same transaction, and
	// returns how many events it took (0: none is left through that seq).
	FoldExposures(ctx context.Context, maxEvents int, through int64) (int, error)
	// ExposureJournalEnd is the seq of the last journal row (0 when the
	// journal is empty).
	ExposureJournalEnd(ctx context.Context) (int64, error)
}

const (
	// journalFoldEvents is about how many exposures one fold takes.
	journalFoldEvents = 2048
	// MaxJournalBacklog is how many exposures appended by a Service may
	// wait to be folded before its group commit waits for the fold.
	MaxJournalBacklog = 4 * journalFoldEvents
	// journalRetry is how long the fold waits after a failure before it
	// tries again, at most journalRetries times in a row.
	journalRetry   = time.Second
	journalRetries = 3
	// journalRecheck is how often the group commit starts the fold again
	// while the fold is failing.
	journalRecheck = 30 * time.Second
	// journalFoldTimeout bounds one fold's transaction.
	journalFoldTimeout = time.Minute
)

// exposureFolder folds a Service's exposure journal in the background:
// one goroutine, started when an append finds none running and returning
// when the journal is empty.
type exposureFolder struct {
	s *Service
	j ExposureJournal // the store's; nil when it keeps none

	mu      sync.Mutex
	on      bool // the group commit appends to the journal (SetExposureJournal)
	running bool
	dirty   bool          // appended since the loop last found the journal empty
	backlog int           // exposures appended and not known folded
	room    chan struct{} // closed and replaced when backlog falls
	folded  int64         // exposures folded, for ExposureBatchStats
	// failedAt is when the fold last gave up after journalRetries
	// failures in a row; zero when it has not, or has succeeded since.
	failedAt time.Time
	recheck  time.Duration // journalRecheck; shorter in tests
}

func newExposureFolder(s *Service) *exposureFolder {
	j, _ := s.store.(ExposureJournal)
	return &exposureFolder{s: s, j: j, room: make(chan struct{}), recheck: journalRecheck}
}

// SetExposureJournal turns the exposure journal on or off (off by
// default; `promolift serve --exposure-journal auto` turns it on for
// PostgreSQL): with it on and a store that keeps one, the group commit
// appends its batches to the journal and a fold in the background moves
// them into the events. Whatever the setting, a report and an erasure fold
// what the journal holds first.
func (s *Service) SetExposureJournal(on bool) {
	s.folder.mu.Lock()
	defer s.folder.mu.Unlock()
	s.folder.on = on && s.folder.j != nil
}

// appended records n exposures appended to the journal and starts the
// fold if it is not running.
func (f *exposureFolder) appended(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backlog += n
	f.startLocked()
}

// startLocked marks the journal as appended to and starts the fold if it
// is not running. f.mu is held.
func (f *exposureFolder) startLocked() {
	f.dirty = true
	if !f.running {
		f.running = true
		go f.loop()
	}
}

// ResumeExposureFold starts folding what the journal holds (the exposures
// a stopped or crashed server acknowledged and did not fold), in the
// background; serve calls it at start.
func (s *Service) ResumeExposureFold() {
	if s.folder.j != nil {
		s.folder.appended(0)
	}
}

// loop folds until the journal is empty and nothing was appended since.
func (f *exposureFolder) loop() {
	for {
		f.mu.Lock()
		if !f.dirty {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.dirty = false
		f.mu.Unlock()
		for failed := 0; ; {
			n, err := f.fold(context.Background(), math.MaxInt64)
			if err != nil {
				f.s.log.Error("fold the exposure journal", "err", err)
				if failed++; failed == journalRetries {
					// The group commit bypasses the journal and starts
					// the fold again after journalRecheck (journals).
					f.mu.Lock()
					f.running = false
					f.failedAt = time.Now()
					f.mu.Unlock()
					f.progress(0, false)
					return
				}
				time.Sleep(journalRetry)
				continue
			}
			failed = 0
			if n == 0 {
				f.progress(0, true)
				break
			}
		}
	}
}

// fold folds one chunk of the journal through seq through.
func (f *exposureFolder) fold(ctx context.Context, through int64) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, journalFoldTimeout)
	defer cancel()
	n, err := f.j.FoldExposures(ctx, journalFoldEvents, through)
	if err == nil && n > 0 {
		f.progress(n, false)
	}
	return n, err
}

// progress records n exposures folded, or with empty that the journal was
// found empty, and wakes the group commit waiting for room.
func (f *exposureFolder) progress(n int, empty bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.folded += int64(n)
	f.backlog = max(f.backlog-n, 0)
	if empty {
		f.backlog = 0
	}
	if (n > 0 || empty) && !f.failedAt.IsZero() {
		f.failedAt = time.Time{}
		f.s.log.Info("the exposure journal's fold succeeds again: exposure batches go to the journal")
	}
	close(f.room)
	f.room = make(chan struct{})
}

// counts returns how many exposures this Service's folds took from the
// journal, how many of its appends wait to be folded, and whether the fold
// is failing (the group commit bypasses the journal).
func (f *exposureFolder) counts() (folded int64, backlog int, failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.folded, f.backlog, !f.failedAt.IsZero()
}

// waitRoom waits until at most MaxJournalBacklog exposures wait to be
// folded.
func (f *exposureFolder) waitRoom() {
	for {
		f.mu.Lock()
		if f.backlog <= MaxJournalBacklog || !f.running || !f.failedAt.IsZero() {
			f.mu.Unlock()
			return
		}
		room := f.room
		f.mu.Unlock()
		<-room
	}
}

// FoldExposureJournal folds every exposure the store's journal held when
// it was called (nothing without a journal): a reader that must count every
// acknowledged exposure calls it first.
func (s *Service) FoldExposureJournal(ctx context.Context) error {
	f := s.folder
	if f.j == nil {
		return nil
	}
	end, err := f.j.ExposureJournalEnd(ctx)
	for n := 1; err == nil && end > 0 && n > 0; {
		n, err = f.fold(ctx, end)
	}
	if err != nil {
		return fmt.Errorf("fold exposures: %w", err)
	}
	return nil
}

// journals reports whether a batch of exposures of the experiments exps
// goes to the journal: the store keeps one, the fold is not failing and no
// experiment of the batch has a frequency cap. While the fold is failing,
// it starts the fold again every recheck.
func (f *exposureFolder) journals(exps map[string]*Experiment) bool {
	f.mu.Lock()
	on, failing := f.on, !f.failedAt.IsZero()
	if on && failing && !f.running && time.Since(f.failedAt) >= f.recheck {
		f.startLocked()
	}
	f.mu.Unlock()
	if !on || failing {
		return false
	}
	for _, x := range exps {
		if x.CapGroup != "" {
			return false
		}
	}
	return true
}

// append is the saveEvents of a batch that goes to the journal: every
// exposure is new to it (the fold drops the duplicates).
func (f *exposureFolder) append(ctx context.Context, valid []Event) ([]bool, error) {
	if err := f.j.AppendExposures(ctx, valid); err != nil {
		return nil, err
	}
	f.appended(len(valid))
	return make([]bool, len(valid)), nil
}
