package experiments_test

import (
	"sort"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/storetest"
)

// boundariesOf computes RFM boundaries the way the stores do, from
// aggregates in memory.
func boundariesOf(aggs []experiments.CustomerAggregate) experiments.RFMBoundaries {
	var r, f, m []int64
	for _, a := range aggs {
		if a.PurchaseCount > 0 {
			r, f, m = append(r, a.LastPurchaseAt.UnixMicro()), append(f, a.PurchaseCount), append(m, a.Monetary)
		}
	}
	b := experiments.RFMBoundaries{Customers: int64(len(r))}
	ranks := experiments.QuintileRanks(b.Customers)
	for _, d := range []struct {
		v   []int64
		out *[4]int64
	}{{r, &b.Recency}, {f, &b.Frequency}, {m, &b.Monetary}} {
		sort.Slice(d.v, func(i, j int) bool { return d.v[i] < d.v[j] })
		for k, rank := range ranks {
			if rank > 0 {
				d.out[k] = d.v[rank-1]
			}
		}
	}
	return b
}

// TestSegmentsFixture checks ComputeSegment, CustomerDeltas and Merge
// against the hand-computed fixture (storetest/testdata/segments/gen.py),
// without a store. The store suite checks the same fixture through both
// stores.
func TestSegmentsFixture(t *testing.T) {
	evs, now, err := storetest.SegmentFixture()
	if err != nil {
		t.Fatal(err)
	}
	want, err := storetest.ExpectedSegments()
	if err != nil {
		t.Fatal(err)
	}
	dup := make([]bool, len(evs))
	seen := map[string]bool{}
	for i, e := range evs {
		dup[i] = seen[e.ID]
		seen[e.ID] = true
	}
	// Two halves merged in the reverse order must equal one pass.
	half := len(evs) / 2
	byUnit := map[string]experiments.CustomerAggregate{}
	for _, part := range [][2]int{{half, len(evs)}, {0, half}} {
		for _, d := range experiments.CustomerDeltas(evs[part[0]:part[1]], dup[part[0]:part[1]]) {
			a, ok := byUnit[d.UnitID]
			if !ok {
				a = experiments.CustomerAggregate{UnitID: d.UnitID}
			}
			a.Merge(d)
			byUnit[d.UnitID] = a
		}
	}
	one := experiments.CustomerDeltas(evs, dup)
	aggs := make([]experiments.CustomerAggregate, 0, len(one))
	for _, a := range one {
		if byUnit[a.UnitID] != a {
			t.Errorf("merged halves of %s = %+v, one pass %+v", a.UnitID, byUnit[a.UnitID], a)
		}
		aggs = append(aggs, a)
	}
	b := boundariesOf(aggs)
	for _, w := range want {
		a, known := byUnit[w.Customer]
		a.UnitID = w.Customer
		g := experiments.ComputeSegment(a, known, b, experiments.SegmentConfig{}, now)
		got := storetest.ExpectedSegment{Customer: g.CustomerID, Known: g.Known, R: g.Recency, F: g.Frequency, M: g.Monetary,
			RFM: string(g.RFM), AIPL: string(g.AIPL)}
		if known {
			got.PurchaseCount, got.Monetary = a.PurchaseCount, a.Monetary
		}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", w.Customer, got, w)
		}
	}
}

func TestQuintileRanks(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want [4]int64
	}{{0, [4]int64{}}, {1, [4]int64{1, 1, 1, 1}}, {5, [4]int64{1, 2, 3, 4}}, {7, [4]int64{2, 3, 5, 6}}, {40, [4]int64{8, 16, 24, 32}}} {
		if got := experiments.QuintileRanks(c.n); got != c.want {
			t.Errorf("QuintileRanks(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestAIPLWindows(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	b := experiments.RFMBoundaries{}
	for _, c := range []struct {
		name string
		a    experiments.CustomerAggregate
		cfg  experiments.SegmentConfig
		want experiments.AIPLStage
	}{
		{"exposed only", experiments.CustomerAggregate{LastExposedAt: now.Add(-day)}, experiments.SegmentConfig{}, experiments.AIPLAwareness},
		{"engaged 10 days ago", experiments.CustomerAggregate{LastEngagedAt: now.Add(-10 * day)}, experiments.SegmentConfig{}, experiments.AIPLInterest},
		{"engaged 10 days ago, window 7", experiments.CustomerAggregate{LastEngagedAt: now.Add(-10 * day)},
			experiments.SegmentConfig{EngagementWindow: 7 * day}, experiments.AIPLAwareness},
		{"one purchase", experiments.CustomerAggregate{LastPurchaseAt: now.Add(-100 * day), PurchaseCount: 1}, experiments.SegmentConfig{}, experiments.AIPLPurchase},
		{"two purchases in a year", experiments.CustomerAggregate{LastPurchaseAt: now.Add(-10 * day), PrevPurchaseAt: now.Add(-300 * day), PurchaseCount: 2},
			experiments.SegmentConfig{}, experiments.AIPLLoyalty},
		{"two purchases, one too old", experiments.CustomerAggregate{LastPurchaseAt: now.Add(-10 * day), PrevPurchaseAt: now.Add(-400 * day), PurchaseCount: 2},
			experiments.SegmentConfig{}, experiments.AIPLPurchase},
		{"a review", experiments.CustomerAggregate{LastReviewAt: now.Add(-30 * day), LastEngagedAt: now.Add(-30 * day), ReviewCount: 1},
			experiments.SegmentConfig{}, experiments.AIPLLoyalty},
		{"old purchase, recent view", experiments.CustomerAggregate{LastPurchaseAt: now.Add(-500 * day), PurchaseCount: 1, LastEngagedAt: now.Add(-day)},
			experiments.SegmentConfig{}, experiments.AIPLInterest},
	} {
		if got := experiments.ComputeSegment(c.a, true, b, c.cfg, now).AIPL; got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
