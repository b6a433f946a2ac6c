package storetest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The segment fixture: 50 customers' events and their RFM and AIPL
// segments, computed independently by testdata/segments/gen.py.
var (
	//go:embed testdata/segments/fixture.json
	segmentFixtureJSON []byte
	//go:embed testdata/segments/expected.json
	segmentExpectedJSON []byte
)

type fixtureEvent struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Unit       string    `json:"unit"`
	TS         time.Time `json:"ts"`
	Experiment string    `json:"experiment"`
	Variant    string    `json:"variant"`
	Name       string    `json:"name"`
	Revenue    int64     `json:"revenue"`
}

// SegmentFixture returns the fixture's events and its "now".
func SegmentFixture() ([]experiments.Event, time.Time, error) {
	var f struct {
		Now    time.Time      `json:"now"`
		Events []fixtureEvent `json:"events"`
	}
	if err := json.Unmarshal(segmentFixtureJSON, &f); err != nil {
		return nil, time.Time{}, err
	}
	out := make([]experiments.Event, len(f.Events))
	for i, e := range f.Events {
		out[i] = experiments.Event{ID: e.ID, Type: experiments.EventType(e.Type), UnitID: e.Unit, Timestamp: e.TS,
			Experiment: e.Experiment, Variant: e.Variant, Name: e.Name, Revenue: e.Revenue, ReceivedAt: f.Now}
		if e.Revenue != 0 {
			out[i].Currency = "KRW"
		}
	}
	return out, f.Now, nil
}

// ExpectedSegment is one row of the fixture's expected segments.
type ExpectedSegment struct {
	Customer      string `json:"customer"`
	Known         bool   `json:"known"`
	R             int    `json:"r"`
	F             int    `json:"f"`
	M             int    `json:"m"`
	RFM           string `json:"rfm"`
	AIPL          string `json:"aipl"`
	PurchaseCount int64  `json:"purchase_count"`
	Monetary      int64  `json:"monetary"`
}

// ExpectedSegments returns the fixture's expected segments.
func ExpectedSegments() ([]ExpectedSegment, error) {
	var x struct {
		Customers []ExpectedSegment `json:"customers"`
	}
	err := json.Unmarshal(segmentExpectedJSON, &x)
	return x.Customers, err
}

func testSegments(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	t.Run("Fixture", func(t *testing.T) {
		s := newStore(t)
		if _, ok := s.(experiments.CustomerSegmentStore); !ok {
			t.Skip("the store keeps no customer segments")
		}
		evs, now, err := SegmentFixture()
		must(t, err)
		want, err := ExpectedSegments()
		must(t, err)
		svc := experiments.NewService(s, nil)
		svc.SetClock(func() time.Time { return now })
		svc.SetSegmentConfig(experiments.SegmentConfig{BoundaryTTL: -1})
		// Out of order, in batches: the aggregates must not depend on it.
		shuffled := append([]experiments.Event(nil), evs...)
		rand.New(rand.NewSource(7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for i := 0; i < len(shuffled); i += 37 {
			ingest(t, s, shuffled[i:min(i+37, len(shuffled))])
		}
		check := func() {
			t.Helper()
			for _, w := range want {
				g, err := svc.Segments(ctx(t), experiments.DefaultEnvironment, w.Customer)
				must(t, err)
				got := ExpectedSegment{Customer: g.CustomerID, Known: g.Known, R: g.Recency, F: g.Frequency, M: g.Monetary,
					RFM: string(g.RFM), AIPL: string(g.AIPL)}
				if g.Known {
					got.PurchaseCount, got.Monetary = g.Aggregate.PurchaseCount, g.Aggregate.Monetary
				}
				if got != w {
					t.Errorf("Segments(%s) = %+v, want %+v", w.Customer, got, w)
				}
			}
		}
		check()
		// Everything again: all duplicates, nothing changes.
		if n := countNew(ingest(t, s, evs)); n != 0 {
			t.Fatalf("re-ingest stored %d events", n)
		}
		check()
	})
	t.Run("UnknownCustomer", func(t *testing.T) {
		s := newStore(t)
		if _, ok := s.(experiments.CustomerSegmentStore); !ok {
			t.Skip("the store keeps no customer segments")
		}
		g, err := experiments.NewService(s, nil).Segments(ctx(t), experiments.DefaultEnvironment, "nobody")
		must(t, err)
		if g.Known || g.RFM != experiments.RFMNone || g.AIPL != experiments.AIPLNone {
			t.Fatalf("unknown customer: %+v", g)
		}
	})
	t.Run("ManyCustomersPerBatch", func(t *testing.T) { testManyCustomers(t, newStore) })
	t.Run("OFREPMatchesAssign", func(t *testing.T) { testSegmentParity(t, newStore) }) // parity.go
	t.Run("DerivedCost", func(t *testing.T) { testDerivedCost(t, newStore) })
	t.Run("Environments", func(t *testing.T) { testSegmentEnvironments(t, newStore) }) // segments_env.go
}

// testDerivedCost checks that conversions without a promotion_cost get the
// cost of their unit's variant (experiments.PromotionCost), that a carried
// cost wins, that non-orders cost nothing, and that changing a rule
// recomputes the rollups.
func testDerivedCost(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	pcs, ok := s.(experiments.PromotionCostStore)
	if !ok {
		t.Skip("the store derives no promotion costs")
	}
	svc := experiments.NewService(s, nil)
	svc.SetClock(func() time.Time { return t0 })
	e := &experiments.Experiment{Key: "costs", PrimaryMetric: "purchase", Variants: []experiments.Variant{
		{Key: "control", Weight: 0.2},
		{Key: "pct", Weight: 0.2, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
		{Key: "ship", Weight: 0.2, Promotion: experiments.Promotion{Type: experiments.PromoFreeShipping, UnitCost: 300}},
		{Key: "amt", Weight: 0.2, Promotion: experiments.Promotion{Type: experiments.PromoAmountOff, Value: 500}},
		{Key: "pts", Weight: 0.1, Promotion: experiments.Promotion{Type: experiments.PromoPoints, Value: 100, UnitCost: 2}},
		{Key: "expo", Weight: 0.1, Promotion: experiments.Promotion{Type: experiments.PromoCashback, Value: 5,
			CostRule: experiments.CostPerExposure, UnitCost: 7}},
	}}
	must(t, svc.CreateExperiment(ctx(t), experiments.Principal{}, e))
	_, err := svc.Transition(ctx(t), experiments.Principal{}, "costs", experiments.ActionStart)
	must(t, err)
	var evs []experiments.Event
	for _, v := range e.Variants {
		u := "u-" + v.Key
		evs = append(evs, exposure("x-"+v.Key, u, "costs", v.Key, time.Hour, nil, ""),
			conversion("p1-"+v.Key, u, "purchase", 2*time.Hour, 12345, nil),
			conversion("p2-"+v.Key, u, "purchase", 3*time.Hour, 300, nil),
			conversion("p3-"+v.Key, u, "purchase", 4*time.Hour, 5000, ptr(int64(77))))
		view := conversion("v-"+v.Key, u, "view", 2*time.Hour, 0, nil)
		view.OrderID = ""
		evs = append(evs, view)
	}
	ingest(t, s, evs)
	costOf := func(p experiments.Promotion) float64 {
		return float64(experiments.PromotionCost(p, 12345) + experiments.PromotionCost(p, 300) + 77)
	}
	want := map[string]float64{
		"control": 77,
		"pct":     1235 + 30 + 77, // 10% of 12345 = 1234.5 → 1235; of 300 = 30
		"ship":    300 + 300 + 77,
		"amt":     500 + 300 + 77, // capped at the order of 300
		"pts":     200 + 200 + 77,
		"expo":    77, // per exposure: nothing per conversion
	}
	checkCosts := func(label string, want map[string]float64, q experiments.StatsQuery) {
		t.Helper()
		st := stats(t, s, q)
		for _, m := range st.Metrics {
			if m.Metric == "view" && m.Cost != 0 {
				t.Errorf("%s: view of %s costs %g", label, m.Variant, m.Cost)
			}
			if m.Metric == "purchase" && m.Cost != want[m.Variant] {
				t.Errorf("%s: purchase cost of %s = %g, want %g", label, m.Variant, m.Cost, want[m.Variant])
			}
		}
	}
	for _, v := range e.Variants {
		if v.Key != "expo" && costOf(v.Promotion) != want[v.Key] {
			t.Fatalf("%s: PromotionCost gives %g, the test wants %g", v.Key, costOf(v.Promotion), want[v.Key])
		}
	}
	checkCosts("rollups", want, experiments.StatsQuery{Experiment: "costs"})
	checkCosts("until", want, experiments.StatsQuery{Experiment: "costs", Until: t0.Add(10 * time.Hour)})
	if rm, ok := s.(RollupMaintainer); ok {
		diffs, err := rm.CheckRollups(ctx(t))
		must(t, err)
		if len(diffs) > 0 {
			t.Fatalf("CheckRollups: %v", diffs)
		}
	}
	// A changed rule recomputes the experiment's costs.
	cur, err := s.GetExperiment(ctx(t), "costs")
	must(t, err)
	cur.Variants[2].Promotion.UnitCost = 450
	must(t, pcs.SyncPromotionCosts(ctx(t), cur))
	want["ship"] = 450 + 450 + 77
	checkCosts("after sync", want, experiments.StatsQuery{Experiment: "costs"})
}

// testManyCustomers checks the aggregates of batches with more customers
// than a store folds in one statement, each customer stored before: every
// customer's aggregate merges its own stored row, whatever its place in
// the batch.
func testManyCustomers(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	cs, ok := s.(experiments.CustomerSegmentStore)
	if !ok {
		t.Skip("the store keeps no customer segments")
	}
	const customers = 150
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	unit := func(k int) string { return fmt.Sprintf("many-%03d", k) }
	var first, second []experiments.Event
	for k := range customers {
		at := base.Add(time.Duration(k) * time.Minute)
		first = append(first,
			experiments.Event{ID: fmt.Sprintf("m1-%d", k), Type: experiments.EventConversion, UnitID: unit(k), Timestamp: at,
				Name: experiments.PurchaseEvent, Revenue: int64(100 + k), Currency: "KRW"},
			experiments.Event{ID: fmt.Sprintf("m2-%d", k), Type: experiments.EventConversion, UnitID: unit(k), Timestamp: at.Add(time.Hour),
				Name: experiments.PurchaseEvent, Revenue: int64(100 + k), Currency: "KRW"})
		// In reverse order: the stored rows are read in no batch order.
		second = append([]experiments.Event{
			{ID: fmt.Sprintf("m3-%d", k), Type: experiments.EventConversion, UnitID: unit(k), Timestamp: base.Add(48 * time.Hour),
				Name: experiments.PurchaseEvent, Revenue: 7, Currency: "KRW"},
			{ID: fmt.Sprintf("m4-%d", k), Type: experiments.EventConversion, UnitID: unit(k), Timestamp: at.Add(30 * time.Minute),
				Name: experiments.ReviewEvent},
		}, second...)
	}
	ingest(t, s, first)
	ingest(t, s, second)
	for _, k := range []int{0, 1, 63, 64, 65, 127, 128, 149} {
		t.Run(unit(k), func(t *testing.T) {
			rows, err := cs.CustomerAggregates(ctx(t), unit(k))
			must(t, err)
			at := base.Add(time.Duration(k) * time.Minute)
			want := experiments.CustomerAggregate{UnitID: unit(k), LastPurchaseAt: base.Add(48 * time.Hour),
				PrevPurchaseAt: at.Add(time.Hour), PurchaseCount: 3, Monetary: 2*int64(100+k) + 7,
				LastEngagedAt: at.Add(30 * time.Minute), LastReviewAt: at.Add(30 * time.Minute), ReviewCount: 1}
			if len(rows) != 1 {
				t.Fatalf("CustomerAggregates = %+v, want one row", rows)
			}
			if !sameAggregate(rows[0], want) {
				t.Errorf("CustomerAggregates = %+v, want %+v", rows[0], want)
			}
		})
	}
}

// sameAggregate compares two aggregates, their times as instants.
func sameAggregate(a, b experiments.CustomerAggregate) bool {
	times := func(c experiments.CustomerAggregate) []time.Time {
		return []time.Time{c.LastPurchaseAt, c.PrevPurchaseAt, c.LastEngagedAt, c.LastReviewAt, c.LastExposedAt}
	}
	ta, tb := times(a), times(b)
	for i := range ta {
		if !ta[i].Equal(tb[i]) {
			return false
		}
	}
	return a.UnitID == b.UnitID && a.Environment == b.Environment && a.PurchaseCount == b.PurchaseCount &&
		a.Monetary == b.Monetary && a.ReviewCount == b.ReviewCount
}
