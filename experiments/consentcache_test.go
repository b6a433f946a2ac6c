package experiments_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// Assign caches a unit's consent, and SetConsent through the same Service
// applies to the next Assign at once, in both directions.
func TestAssignConsentCache(t *testing.T) {
	ctx := context.Background()
	svc := specService(t)
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	optedOut := func(unit string) bool {
		t.Helper()
		rs, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: unit})
		if err != nil || len(rs) != 1 {
			t.Fatalf("Assign(%s) = %+v, %v", unit, rs, err)
		}
		return rs[0].Reason == experiments.ReasonOptedOut
	}
	for _, u := range []string{"cust-a", "cust-b", "cust-c"} {
		for range 2 { // the second call hits the cache
			if optedOut(u) {
				t.Fatalf("%s: opted out without a consent record", u)
			}
		}
		if _, err := svc.SetConsent(ctx, specAdmin, u, false); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if !optedOut(u) {
				t.Fatalf("%s: not opted out right after SetConsent(false)", u)
			}
		}
		if _, err := svc.SetConsent(ctx, specAdmin, u, true); err != nil {
			t.Fatal(err)
		}
		if optedOut(u) {
			t.Fatalf("%s: still opted out right after SetConsent(true)", u)
		}
	}
}

// countingConsent counts the per-unit consent reads of a SQLite store.
type countingConsent struct {
	*sqlite.Store
	reads atomic.Int64
}

func (c *countingConsent) OptedOut(ctx context.Context, units []string) (map[string]bool, error) {
	c.reads.Add(1)
	return c.Store.OptedOut(ctx, units)
}

// The consent of customers never seen before comes from the set of every
// opted-out unit, read once per consent TTL, not from a read per customer;
// an opt-out by another process (another Service over the store) applies
// within the TTL, one through this Service at once.
func TestConsentOfNewCustomersFromTheOptOutSet(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	store := &countingConsent{Store: st}
	svc := experiments.NewService(store, nil)
	other := experiments.NewService(st, nil) // another process
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	assign := func(unit string) string {
		t.Helper()
		rs, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: unit})
		if err != nil || len(rs) != 1 {
			t.Fatalf("Assign(%s) = %+v, %v", unit, rs, err)
		}
		return rs[0].Reason
	}
	if _, err := other.SetConsent(ctx, specAdmin, "out-before", false); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if r := assign(fmt.Sprintf("new-%d", i)); r == experiments.ReasonOptedOut {
			t.Fatalf("new-%d: opted out without a consent record", i)
		}
	}
	if r := assign("out-before"); r != experiments.ReasonOptedOut {
		t.Errorf("out-before: reason %q, want %q (opted out before the set was read)", r, experiments.ReasonOptedOut)
	}
	if n := store.reads.Load(); n != 0 {
		t.Errorf("%d per-unit consent reads for 51 customers; want none (the set answers)", n)
	}
	if _, err := svc.SetConsent(ctx, specAdmin, "new-3", false); err != nil {
		t.Fatal(err)
	}
	if r := assign("new-3"); r != experiments.ReasonOptedOut {
		t.Errorf("new-3 right after SetConsent(false) here: reason %q, want %q", r, experiments.ReasonOptedOut)
	}
	// Without the set (caching off), every customer is read.
	svc.SetConsentCacheTTL(0)
	assign("new-60")
	if n := store.reads.Load(); n != 1 {
		t.Errorf("with the consent cache off, %d per-unit reads for one customer; want 1", n)
	}
}
