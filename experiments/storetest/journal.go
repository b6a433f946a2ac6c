package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The exposure journal (experiments/exposurejournal.go): a fold stores
// each journaled exposure once, takes the rows through the seq it is given
// and no later, and the readers that must count every acknowledged
// exposure (a report, an erasure) fold the journal first. Exposures of an
// experiment with a frequency cap never go through the journal.

// journalExposures returns the exposures of units to variant "ten_off"
// of experiment key, received now.
func journalExposures(key string, units ...string) []experiments.Event {
	now := time.Now().UTC().Truncate(time.Microsecond)
	out := make([]experiments.Event, len(units))
	for i, u := range units {
		out[i] = experiments.Event{ID: experiments.ExposureID(key, 1, u, "ten_off", now), Type: experiments.EventExposure,
			UnitID: u, Timestamp: now, Experiment: key, Variant: "ten_off", Channel: "web", ReceivedAt: now}
	}
	return out
}

// journalEnd returns the seq of the journal's last row (0: empty).
func journalEnd(t *testing.T, j experiments.ExposureJournal) int64 {
	t.Helper()
	end, err := j.ExposureJournalEnd(ctx(t))
	must(t, err)
	return end
}

func testExposureJournal(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	// setup returns a store with a journal and a Service over it running
	// experiment key. Rows appended to the store directly are not folded
	// in the background: only the Service's own appends start its fold.
	setup := func(t *testing.T, key string) (experiments.Store, experiments.ExposureJournal, *experiments.Service) {
		t.Helper()
		s := newStore(t)
		j, ok := s.(experiments.ExposureJournal)
		if !ok {
			t.Skip("the store keeps no exposure journal")
		}
		return s, j, batchService(t, s, key, 8, 0, true)
	}

	t.Run("a fold stores each exposure once, repeats in the journal too", func(t *testing.T) {
		s, j, _ := setup(t, "jonce")
		must(t, j.AppendExposures(ctx(t), journalExposures("jonce", "u1", "u2")))
		must(t, j.AppendExposures(ctx(t), journalExposures("jonce", "u2", "u3"))) // u2 again
		if events := exposureRows(t, s, "jonce"); events != 0 {
			t.Fatalf("%d exposure events before the fold; want none", events)
		}
		n, err := j.FoldExposures(ctx(t), 1000, journalEnd(t, j))
		must(t, err)
		if n != 4 {
			t.Errorf("the fold took %d events; want the 4 of both rows", n)
		}
		if end := journalEnd(t, j); end != 0 {
			t.Errorf("journal end %d after the fold; want it empty", end)
		}
		if events, units, exposures := storedExposures(t, s, "jonce"); events != 3 || units != 3 || exposures != 3 {
			t.Errorf("%d exposure events, rollups %d units, %d exposures; want 3 each", events, units, exposures)
		}
		if n, err := j.FoldExposures(ctx(t), 1000, 1<<62); err != nil || n != 0 {
			t.Errorf("a fold of the empty journal took %d (%v); want 0", n, err)
		}
	})

	t.Run("a fold takes the rows through its seq and no later", func(t *testing.T) {
		s, j, _ := setup(t, "jthrough")
		must(t, j.AppendExposures(ctx(t), journalExposures("jthrough", "a1", "a2")))
		first := journalEnd(t, j)
		must(t, j.AppendExposures(ctx(t), journalExposures("jthrough", "b1")))
		n, err := j.FoldExposures(ctx(t), 1000, first)
		must(t, err)
		if n != 2 {
			t.Errorf("the fold through the first row took %d events; want 2", n)
		}
		if events := exposureRows(t, s, "jthrough"); events != 2 {
			t.Errorf("%d exposure events after folding the first row; want 2", events)
		}
		if end := journalEnd(t, j); end <= first {
			t.Errorf("journal end %d; want the second row (after %d) still there", end, first)
		}
	})

	t.Run("a fold of many rows takes about maxEvents", func(t *testing.T) {
		s, j, _ := setup(t, "jmax")
		for i := range 10 {
			must(t, j.AppendExposures(ctx(t), journalExposures("jmax", fmt.Sprintf("m%d-a", i), fmt.Sprintf("m%d-b", i))))
		}
		n, err := j.FoldExposures(ctx(t), 5, journalEnd(t, j))
		must(t, err)
		if n != 6 { // whole rows of 2 until 5 or more
			t.Errorf("a fold of at most 5 took %d events; want 6 (three rows)", n)
		}
		if events := exposureRows(t, s, "jmax"); events != 6 {
			t.Errorf("%d exposure events; want 6", events)
		}
	})

	t.Run("a report counts the exposures still in the journal", func(t *testing.T) {
		_, j, svc := setup(t, "jreport")
		must(t, j.AppendExposures(ctx(t), journalExposures("jreport", "r1", "r2", "r3")))
		r, err := svc.Report(ctx(t), "jreport", experiments.ReportOptions{NoBreakdowns: true})
		must(t, err)
		var units int64
		for _, v := range r.Variants {
			units += v.Units
		}
		if units != 3 {
			t.Errorf("the report counts %d units; want the 3 acknowledged into the journal", units)
		}
	})

	t.Run("an erasure leaves none of the customer's exposures in the journal", func(t *testing.T) {
		s, j, svc := setup(t, "jerase")
		tf, ok := s.(TextFinder)
		if !ok {
			t.Skip("the store cannot search its tables")
		}
		const gone = "journal-erased-customer-7f3a"
		must(t, j.AppendExposures(ctx(t), journalExposures("jerase", gone, "kept-customer")))
		if found, err := tf.TablesContaining(ctx(t), gone); err != nil || len(found) == 0 {
			t.Fatalf("before the erasure the customer is in %v (%v); want the journal", found, err)
		}
		_, err := svc.EraseCustomer(ctx(t), rightsAdmin, gone)
		must(t, err)
		found, err := tf.TablesContaining(ctx(t), gone)
		must(t, err)
		if len(found) > 0 {
			t.Errorf("after the erasure the customer is still in %v", found)
		}
		if events, units, _ := storedExposures(t, s, "jerase"); events != 1 || units != 1 {
			t.Errorf("%d exposure events, %d units; want the other customer's one", events, units)
		}
	})

	t.Run("a row the fold cannot read does not hold assignment up", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits for the fold's retries")
		}
		s, j, svc := setup(t, "jpoison")
		db := s.(rawDB).DB()
		_, err := db.ExecContext(ctx(t), `INSERT INTO exposure_journal (events) VALUES ('not a journal row')`)
		must(t, err)
		poisoned := journalEnd(t, j)
		// The first batch goes to the journal and starts the fold, which
		// gives up after its retries.
		if errs, _ := assignConcurrently(t, svc, "jpoison", []string{"p1", "p2"}); errs[0] != nil || errs[1] != nil {
			t.Fatalf("assign before the fold failed: %v", errs)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !svc.ExposureBatches().FoldFailing {
			if time.Now().After(deadline) {
				t.Fatal("the fold of a journal with an unreadable row does not fail")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Later batches are stored directly, at once.
		end := journalEnd(t, j)
		errs, _ := assignConcurrently(t, svc, "jpoison", []string{"p3", "p4", "p5"})
		for _, err := range errs {
			must(t, err)
		}
		if got := journalEnd(t, j); got != end {
			t.Errorf("journal end %d after assigning with the fold failing; want %d (nothing appended)", got, end)
		}
		if events := exposureRows(t, s, "jpoison"); events != 3 {
			t.Errorf("%d exposure events stored; want the 3 assigned after the fold failed", events)
		}
		// A report must count every acknowledged exposure: it fails while
		// two of them are behind the unreadable row.
		if _, err := svc.Report(ctx(t), "jpoison", experiments.ReportOptions{NoBreakdowns: true}); err == nil {
			t.Error("a report succeeded with acknowledged exposures stuck in the journal")
		}
		if poisoned >= end {
			t.Errorf("journal end %d after the first batch; want it past the unreadable row's %d", end, poisoned)
		}
	})

	t.Run("an experiment with a frequency cap does not go through the journal", func(t *testing.T) {
		s, j, svc := setup(t, "junused")
		must(t, svc.PutCapGroup(ctx(t), rightsAdmin, &experiments.CapGroup{Name: "jcap", MaxExposures: 3, Window: 24 * time.Hour}))
		startPromo(t, svc, "jcapped", "jcap", 0)
		r := assignOne(t, svc, "cap-cust", "jcapped")
		id := experiments.ExposureID("jcapped", 1, "cap-cust", r.Variant, time.Now())
		if ok, err := s.(experiments.CustomerStore).HasEvent(ctx(t), id); err != nil || !ok {
			t.Errorf("the capped experiment's exposure is not stored when acknowledged (%v)", err)
		}
		if end := journalEnd(t, j); end != 0 {
			t.Errorf("journal end %d; want nothing journaled", end)
		}
	})
}

// exposureRows counts the exposure events of experiment key in the events
// table (without folding the journal).
func exposureRows(t *testing.T, s experiments.Store, key string) (n int64) {
	t.Helper()
	db := s.(rawDB).DB()
	must(t, db.GetContext(ctx(t), &n, db.Rebind(`SELECT COUNT(*) FROM events WHERE type = 'exposure' AND experiment = ?`), key))
	return n
}
