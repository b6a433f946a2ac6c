package experiments

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedJournal is a store whose exposure journal folds only when told:
// each FoldExposures call takes one value from fold (the events it
// folds; 0 ends the loop) and returns it.
type gatedJournal struct {
	Store // nil: only the journal is used

	mu       sync.Mutex
	appended int
	fold     chan int
}

func (g *gatedJournal) AppendExposures(_ context.Context, events []Event) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.appended += len(events)
	return nil
}

func (g *gatedJournal) FoldExposures(ctx context.Context, maxEvents int, through int64) (int, error) {
	select {
	case n := <-g.fold:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (g *gatedJournal) ExposureJournalEnd(context.Context) (int64, error) { return 1, nil }

// TestJournalBacklogHoldsTheGroupCommit: past MaxJournalBacklog exposures
// waiting to be folded, the group commit waits (waitRoom) until the fold
// has taken enough of them, and goes on at once below it.
func TestJournalBacklogHoldsTheGroupCommit(t *testing.T) {
	g := &gatedJournal{fold: make(chan int)}
	s := NewService(g, nil)
	s.SetExposureJournal(true)
	f := s.folder
	room := func() <-chan struct{} {
		done := make(chan struct{})
		go func() { f.waitRoom(); close(done) }()
		return done
	}
	if _, err := f.append(context.Background(), make([]Event, MaxJournalBacklog)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-room():
	case <-time.After(5 * time.Second):
		t.Fatal("waitRoom waited with the backlog at its bound")
	}
	if _, err := f.append(context.Background(), make([]Event, 10)); err != nil {
		t.Fatal(err)
	}
	waiting := room()
	select {
	case <-waiting:
		t.Fatal("waitRoom did not wait with the backlog past its bound")
	case <-time.After(50 * time.Millisecond):
	}
	g.fold <- 5 // still 5 past the bound
	select {
	case <-waiting:
		t.Fatal("waitRoom stopped waiting with the backlog still past its bound")
	case <-time.After(50 * time.Millisecond):
	}
	g.fold <- 5
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("waitRoom still waits with the backlog back at its bound")
	}
	g.fold <- 0 // the journal is empty: the fold stops
	if got := s.ExposureBatches().Folded; got != 10 {
		t.Errorf("folded %d events, want 10", got)
	}
}

// failingJournal's fold fails while broken is set, and finds the journal
// empty otherwise.
type failingJournal struct {
	gatedJournal
	broken atomic.Bool
}

func (j *failingJournal) FoldExposures(context.Context, int, int64) (int, error) {
	if j.broken.Load() {
		return 0, errors.New("the database is gone")
	}
	return 0, nil
}

// TestJournalFoldFailureBypassesTheJournal: a fold that keeps failing
// stops after journalRetries attempts; the group commit then neither waits
// for it (the journal keeps what it was given) nor appends to the journal,
// and once a fold started again by the group commit succeeds, batches go
// to the journal again.
func TestJournalFoldFailureBypassesTheJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the fold's retries")
	}
	j := &failingJournal{}
	j.broken.Store(true)
	s := NewService(j, nil)
	s.SetExposureJournal(true)
	f := s.folder
	f.recheck = 10 * time.Millisecond
	if !f.journals(nil) {
		t.Fatal("a batch bypasses the journal before any fold failed")
	}
	if _, err := f.append(context.Background(), make([]Event, MaxJournalBacklog+1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { f.waitRoom(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Duration(journalRetries+5) * journalRetry):
		t.Fatal("the group commit still waits for a fold that failed")
	}
	if !s.ExposureBatches().FoldFailing {
		t.Fatal("ExposureBatches().FoldFailing is false after the fold gave up")
	}
	if f.journals(nil) {
		t.Fatal("a batch goes to the journal while its fold is failing")
	}
	j.broken.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for !f.journals(nil) { // starts the fold again every recheck
		if time.Now().After(deadline) {
			t.Fatal("batches still bypass the journal after its fold succeeded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.ExposureBatches(); st.FoldFailing || st.Backlog != 0 {
		t.Errorf("after the fold succeeded: FoldFailing %v, backlog %d; want false, 0", st.FoldFailing, st.Backlog)
	}
}
