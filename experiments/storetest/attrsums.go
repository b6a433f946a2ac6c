package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// ownTier is the tier of unit x of incrementalCases' erasure case, a value
// no other unit has: the erasure must leave it nowhere.
const ownTier = "tier-of-x-only"

// withAttributes gives the exposures of evs stored attributes: a tier of
// their own (ownTier for x) or none (b3), an RFM segment shared with other
// units, and for unit f's late earlier exposure other ones than its later
// exposure's, so that the unit's sums move when it arrives.
func withAttributes(evs []experiments.Event) []experiments.Event {
	out := make([]experiments.Event, len(evs))
	for i, e := range evs {
		if e.Type == experiments.EventExposure && e.UnitID != "b3" {
			attrs := map[string]string{"tier": "tier-" + e.UnitID, experiments.AttrRFMSegment: "champions"}
			switch {
			case e.UnitID == "x":
				attrs["tier"] = ownTier
			case e.ID == "f-e1":
				attrs = map[string]string{experiments.AttrRFMSegment: "at_risk", experiments.AttrAIPLStage: ""}
			case strings.HasPrefix(e.UnitID, "b"), e.UnitID == "n":
				attrs[experiments.AttrRFMSegment] = "loyal"
			}
			e.Attributes = attrs
		}
		out[i] = e
	}
	return out
}

// testAttrSums checks the per-attribute sums the breakdowns by a kept
// attribute read (kept at ingest, sqlstore/attrsums.go) after each history
// of incrementalCases with attributes (withAttributes): SufficientStats by
// the tier, the RFM segment, the AIPL stage and an attribute no unit has,
// multiple-exposed units excluded or counted, the same as recomputed from
// the raw events (Until after all data), CheckRollups clean, and after the
// erasure no trace of the erased unit's own tier. Then the same through
// the exposure group commit and after RecomputeRollups.
func testAttrSums(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	// compare compares the statistics of exp by each attribute with their
	// recomputation from the raw events before until.
	compare := func(t *testing.T, s experiments.Store, exp string, until time.Time) {
		t.Helper()
		for _, dim := range []string{"tier", experiments.AttrRFMSegment, experiments.AttrAIPLStage, "absent"} {
			for _, mode := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
				q := experiments.StatsQuery{Experiment: exp, Dimension: dim, MultipleExposure: mode}
				got := stats(t, s, q)
				q.Until = until
				want := stats(t, s, q)
				what := "stats by " + dim + " " + string(mode)
				equalJSON(t, what+": variants", got.Variants, want.Variants)
				equalJSON(t, what+": metrics", got.Metrics, want.Metrics)
			}
		}
		checkRollupsClean(t, s)
	}
	after := t0.Add(30 * 24 * time.Hour)
	for _, tc := range incrementalCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			createExp(t, s, "exp", 7*24*time.Hour)
			ingest(t, s, withAttributes(incrementalBase()))
			for _, b := range tc.batches {
				ingest(t, s, withAttributes(b))
			}
			compare(t, s, "exp", after)
			if tc.erase == "" {
				return
			}
			_, err := experiments.NewService(s, nil).EraseCustomer(ctx(t), rightsAdmin, tc.erase)
			must(t, err)
			compare(t, s, "exp", after)
			if tf, ok := s.(TextFinder); ok {
				found, err := tf.TablesContaining(ctx(t), ownTier)
				must(t, err)
				if len(found) != 0 {
					t.Fatalf("after erasing %s its own tier is still in %v", tc.erase, found)
				}
			}
		})
	}
	t.Run("group commit and recomputation", func(t *testing.T) {
		s := newStore(t)
		svc := batchService(t, s, "gc", 8, 20*time.Millisecond, false)
		segments := []string{"champions", "loyal", "at_risk"}
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				u := "gc-" + string(rune('a'+i))
				_, err := svc.Assign(ctx(t), paritySDK, experiments.AssignRequest{UnitID: u, Experiments: []string{"gc"},
					Attributes: map[string]any{experiments.AttrRFMSegment: segments[i%3]}, LogExposure: true})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var convs []experiments.Event
		for i := range 12 {
			u := "gc-" + string(rune('a'+2*i))
			convs = append(convs, experiments.Event{ID: "gc-c-" + u, Type: experiments.EventConversion, UnitID: u, Name: "purchase",
				Revenue: int64(100 * (i + 1)), Currency: "KRW", Timestamp: time.Now().UTC(), ReceivedAt: time.Now().UTC()})
		}
		ingest(t, s, convs)
		compare(t, s, "gc", time.Now().Add(time.Hour))
		byRFM := stats(t, s, experiments.StatsQuery{Experiment: "gc", Dimension: experiments.AttrRFMSegment})
		units := map[string]int64{}
		for _, v := range byRFM.Variants {
			units[v.Slice] += v.Units
		}
		equalJSON(t, "units by RFM segment", units, map[string]int64{"champions": 8, "loyal": 8, "at_risk": 8})
		if rm, ok := s.(RollupMaintainer); ok {
			must(t, rm.RecomputeRollups(ctx(t)))
			compare(t, s, "gc", time.Now().Add(time.Hour))
		}
	})
}

// LegacyAttributes are the stored attributes of the units of
// LegacySeriesRows in a database before migration 0033
// (AttributesBackfilled): u1 has tier gold, u2 none.
var LegacyAttributes = map[string]string{"u1": `{"tier":"gold"}`}

// AttributesBackfilled checks a store of experiment "exp" just upgraded by
// migration 0033 from the rollup rows of LegacySeriesRows with
// LegacyAttributes: the statistics by tier, read from the attribute sums
// the migration filled in, worked out by hand.
func AttributesBackfilled(t *testing.T, s experiments.Store) {
	t.Helper()
	got := stats(t, s, experiments.StatsQuery{Experiment: "exp", Dimension: "tier"})
	wantStats(t, got, []vc{{Slice: experiments.NoSlice, Variant: "treat", Units: 1, Exposures: 1},
		{Slice: "gold", Variant: "control", Units: 1, Exposures: 1}},
		[]ms{{Slice: experiments.NoSlice, Variant: "treat", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1,
			Revenue: 50, RevenueSquares: 2500, RevenueCount: 50},
			{Slice: "gold", Variant: "control", Metric: "purchase", Converted: 1, Count: 3, CountSquares: 9,
				Revenue: 500, RevenueSquares: 250000, RevenueCount: 1500}})
}
