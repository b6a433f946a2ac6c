package experiments_test

import (
	"context"
	"testing"

	"github.com/promolift/promolift/experiments"
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
