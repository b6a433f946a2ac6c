package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
)

// Exposures by group commit (experiments/exposurebatch.go): concurrent
// Assign calls share store transactions; every acknowledged exposure is
// stored exactly once; a failed transaction fails every request of its
// batch and stores nothing of it; batches stay within their bound; a
// repeat of a committed exposure needs no transaction; a bulk evaluation
// logs exposures only when asked.

// rawDB is what the group-commit cases need of a store beyond the Store
// interface: its database, to count stored rows and to make one insert
// fail inside the store's transaction.
type rawDB interface{ DB() *sqlx.DB }

// batchService returns a Service over s running the two-variant
// experiment key, with exposure batches of at most maxEvents exposures
// that wait at most maxWait, through the exposure journal when journal.
func batchService(t *testing.T, s experiments.Store, key string, maxEvents int, maxWait time.Duration, journal bool) *experiments.Service {
	t.Helper()
	svc := experiments.NewService(s, nil)
	must(t, svc.SetExposureBatching(maxEvents, maxWait))
	svc.SetExposureJournal(journal)
	admin := experiments.Principal{KeyID: "admin", Scope: experiments.ScopeAdmin}
	must(t, svc.CreateExperiment(ctx(t), admin, parityExperiment(key, 0.5, 0.5)))
	_, err := svc.Transition(ctx(t), admin, key, experiments.ActionStart)
	must(t, err)
	return svc
}

// assignConcurrently assigns units to experiment key, one Assign call per
// unit, all at once, and returns each call's error and variant.
func assignConcurrently(t *testing.T, svc *experiments.Service, key string, units []string) ([]error, []string) {
	t.Helper()
	errs, variants := make([]error, len(units)), make([]string, len(units))
	var wg sync.WaitGroup
	for i, u := range units {
		wg.Go(func() {
			rs, err := svc.Assign(ctx(t), paritySDK, experiments.AssignRequest{UnitID: u, Experiments: []string{key}, LogExposure: true})
			errs[i] = err
			if err == nil {
				variants[i] = rs[0].Variant
			}
		})
	}
	wg.Wait()
	return errs, variants
}

// storedExposures counts the exposure events of experiment key in the
// events table and the units and exposures its rollups hold, once the
// exposure journal is folded.
func storedExposures(t *testing.T, s experiments.Store, key string) (events, units, exposures int64) {
	t.Helper()
	must(t, experiments.NewService(s, nil).FoldExposureJournal(ctx(t)))
	events = exposureRows(t, s, key) // journal.go
	st, err := s.SufficientStats(ctx(t), experiments.StatsQuery{Experiment: key, MultipleExposure: experiments.MultipleExclude})
	must(t, err)
	for _, v := range st.Variants {
		units += v.Units + v.MultipleExposed
		exposures += v.Exposures
	}
	return events, units, exposures
}

// poisonUnit makes every insert into events of an event of unit fail
// inside the store's transaction (after the store's dedupe of the batch),
// or with journal every append of a journal row holding one, until the
// returned func is called.
func poisonUnit(t *testing.T, s experiments.Store, unit string, journal bool) func() {
	t.Helper()
	db := s.(rawDB).DB()
	table, hit := "events", "NEW.unit_id = '"+unit+"'"
	if journal {
		table, hit = "exposure_journal", `NEW.events LIKE '%"unit":"`+unit+`"%'`
	}
	stmts, undo := []string{
		`CREATE TRIGGER poison_events BEFORE INSERT ON ` + table + ` WHEN ` + hit + `
			BEGIN SELECT RAISE(ABORT, 'poisoned event'); END`,
	}, []string{`DROP TRIGGER poison_events`}
	if db.DriverName() == "postgres" {
		stmts = []string{
			`CREATE FUNCTION poison_events() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF ` + hit + ` THEN RAISE EXCEPTION 'poisoned event'; END IF; RETURN NULL; END $$`,
			`CREATE TRIGGER poison_events AFTER INSERT ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION poison_events()`,
		}
		undo = []string{`DROP TRIGGER poison_events ON ` + table, `DROP FUNCTION poison_events()`}
	}
	for _, q := range stmts {
		_, err := db.ExecContext(ctx(t), q)
		must(t, err)
	}
	return func() {
		for _, q := range undo {
			_, err := db.ExecContext(ctx(t), q)
			must(t, err)
		}
	}
}

// testExposureBatching runs the cases with the group commit ingesting its
// batches, or with journal appending them to the exposure journal.
func testExposureBatching(t *testing.T, newStore func(t *testing.T) experiments.Store, journal bool) {
	t.Run("concurrent requests share transactions, each exposure stored once", func(t *testing.T) {
		s := newStore(t)
		const maxEvents = 8
		svc := batchService(t, s, "gc", maxEvents, 0, journal)
		// 400 calls for 150 units: repeats within a batch, across batches
		// and of committed exposures.
		units := make([]string, 400)
		for i := range units {
			units[i] = fmt.Sprintf("u%d", i%150)
		}
		errs, variants := assignConcurrently(t, svc, "gc", units)
		seen := map[string]string{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("assign %s: %v", units[i], err)
			}
			if v, ok := seen[units[i]]; ok && v != variants[i] {
				t.Fatalf("%s got %s and %s", units[i], v, variants[i])
			}
			seen[units[i]] = variants[i]
		}
		must(t, svc.FoldExposureJournal(ctx(t)))
		cs := s.(experiments.CustomerStore)
		now := time.Now()
		for u, v := range seen {
			id := experiments.ExposureID("gc", 1, u, v, now)
			if ok, err := cs.HasEvent(ctx(t), id); err != nil || !ok {
				t.Errorf("the acknowledged exposure of %s to %s is not stored (%v)", u, v, err)
			}
		}
		events, rolledUnits, exposures := storedExposures(t, s, "gc")
		if events != 150 || rolledUnits != 150 || exposures != 150 {
			t.Errorf("stored %d exposure events, rollups %d units and %d exposures; want 150 each", events, rolledUnits, exposures)
		}
		st := svc.ExposureBatches()
		if st.Largest > maxEvents || st.Largest < 1 || st.Failed != 0 {
			t.Errorf("batches %+v: want at most %d exposures in one, none failed", st, maxEvents)
		}
		if st.Events+st.Skipped != 400 {
			t.Errorf("batches %+v: %d exposures committed or skipped, want 400", st, st.Events+st.Skipped)
		}
	})

	t.Run("a full batch is committed at once", func(t *testing.T) {
		// With a wait of an hour, only the batch bound commits: 24 calls
		// make three full batches of 8.
		s := newStore(t)
		svc := batchService(t, s, "full", 8, time.Hour, journal)
		must(t, svc.SetExposureLanes(1)) // one queue: lanes would split the 24
		units := make([]string, 24)
		for i := range units {
			units[i] = fmt.Sprintf("f%d", i)
		}
		errs, _ := assignConcurrently(t, svc, "full", units)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("assign %s: %v", units[i], err)
			}
		}
		if st := svc.ExposureBatches(); st.Batches != 3 || st.Largest != 8 || st.Events != 24 {
			t.Errorf("batches %+v: want 3 batches of 8", st)
		}
	})

	t.Run("a store failure fails the whole batch and stores nothing of it", func(t *testing.T) {
		s := newStore(t)
		svc := batchService(t, s, "fail", 8, time.Hour, journal)
		must(t, svc.SetExposureLanes(1)) // the eight in one batch
		units := []string{"a", "b", "c", "d", "poison", "e", "f", "g"}
		cure := poisonUnit(t, s, "poison", journal)
		errs, _ := assignConcurrently(t, svc, "fail", units)
		for i, err := range errs {
			if experiments.KindOf(err) != experiments.KindUnavailable {
				t.Errorf("assign %s: %v; want a KindUnavailable error for every request of the batch", units[i], err)
			}
		}
		if events, n, _ := storedExposures(t, s, "fail"); events != 0 || n != 0 {
			t.Errorf("after the failed batch: %d exposure events, %d units stored; want none", events, n)
		}
		if st := svc.ExposureBatches(); st.Failed != 1 || st.Batches != 0 {
			t.Errorf("batches %+v: want one failed", st)
		}
		// Nothing of the batch stayed behind (not even in the store's
		// dedupe): the same calls, retried, store every exposure.
		cure()
		errs, _ = assignConcurrently(t, svc, "fail", units)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("retry of %s: %v", units[i], err)
			}
		}
		if events, n, x := storedExposures(t, s, "fail"); events != 8 || n != 8 || x != 8 {
			t.Errorf("after the retry: %d exposure events, rollups %d units, %d exposures; want 8 each", events, n, x)
		}
	})

	t.Run("a repeat of a committed exposure needs no transaction, also after a restart", func(t *testing.T) {
		s := newStore(t)
		svc := batchService(t, s, "rep", 8, 0, journal)
		assign := func(svc *experiments.Service) {
			t.Helper()
			_, err := svc.Assign(ctx(t), paritySDK, experiments.AssignRequest{UnitID: "r", Experiments: []string{"rep"}, LogExposure: true})
			must(t, err)
		}
		assign(svc)
		assign(svc)
		if st := svc.ExposureBatches(); st.Batches != 1 || st.Skipped != 1 {
			t.Errorf("batches %+v: want one transaction and one skipped repeat", st)
		}
		// A new Service (a restart) remembers nothing: the store drops the
		// repeat.
		again := experiments.NewService(s, nil)
		again.SetExposureJournal(journal)
		assign(again)
		if st := again.ExposureBatches(); st.Batches != 1 || st.Skipped != 0 {
			t.Errorf("after the restart, batches %+v: want one transaction", st)
		}
		if events, n, x := storedExposures(t, s, "rep"); events != 1 || n != 1 || x != 1 {
			t.Errorf("%d exposure events, rollups %d units, %d exposures; want 1 each", events, n, x)
		}
	})

	t.Run("bulk evaluation logs exposures only when asked", func(t *testing.T) {
		s := newStore(t)
		svc := batchService(t, s, "bulk", 8, 0, journal)
		attrs := map[string]any{"id": "b1"}
		_, _, err := svc.EvaluateFlags(ctx(t), paritySDK, attrs)
		must(t, err)
		if events, _, _ := storedExposures(t, s, "bulk"); events != 0 {
			t.Errorf("EvaluateFlags stored %d exposures; want none (a prefetch)", events)
		}
		_, _, err = svc.EvaluateFlagsLogged(ctx(t), paritySDK, attrs)
		must(t, err)
		if events, _, _ := storedExposures(t, s, "bulk"); events != 1 {
			t.Errorf("EvaluateFlagsLogged stored %d exposures; want 1", events)
		}
	})
}
