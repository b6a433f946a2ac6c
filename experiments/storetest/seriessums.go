package storetest

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// incrementalCase is a history of batches after incrementalBase that
// change a unit's earlier or later rollup rows, with a customer erased
// after them (erase, when set).
type incrementalCase struct {
	name    string
	batches [][]experiments.Event
	erase   string
}

// incrementalBase are units of experiment "exp" exposed and converting in
// order, on two channels, around the cases of incrementalCases.
func incrementalBase() []experiments.Event {
	d, h := 24*time.Hour, time.Hour
	return []experiments.Event{
		exposure("b1-e", "b1", "exp", "control", h, nil, ""),
		conversion("b1-c1", "b1", "purchase", 2*h, 500, nil),
		conversion("b1-c2", "b1", "purchase", d+2*h, 700, nil),
		exposure("b2-e", "b2", "exp", "treat", 3*h, nil, "email"),
		conversion("b2-c1", "b2", "purchase", 2*d+h, 900, nil),
		exposure("b3-e", "b3", "exp", "treat", d+3*h, nil, ""),
	}
}

// incrementalCases are the histories the sums kept at ingest are tested
// on: conversions out of order, refunds on later days, an earlier first
// exposure arriving late, units turning multiple and an erasure.
func incrementalCases() []incrementalCase {
	d, h := 24*time.Hour, time.Hour
	return []incrementalCase{
		{"out-of-order conversions", [][]experiments.Event{
			{exposure("a-e", "a", "exp", "treat", h, nil, ""), conversion("a-c3", "a", "purchase", 3*d+h, 300, nil)},
			{conversion("a-c1", "a", "purchase", d+h, 200, nil)}, // before a stored later day
			{conversion("a-c2", "a", "purchase", d+5*h, 50, nil), // the same day again
				conversion("a-c0", "a", "purchase", 2*h, 10, nil)}, // and the unit's first day
		}, ""},
		{"refunds on later days", [][]experiments.Event{
			{exposure("r-e", "r", "exp", "control", h, nil, ""), conversion("r-c1", "r", "purchase", 2*h, 1000, nil),
				conversion("r-c2", "r", "purchase", d+2*h, 600, nil)},
			{refund("r-f2", "r", "o-r-c1", 3*d, 400)}, // a partial refund two days on
			{refund("r-f1", "r", "o-r-c1", 2*d, 300)}, // an earlier one, arriving later
			{refund("r-f3", "r", "o-r-c2", 4*d, 0)},   // a full refund of the other order
			{conversion("r-c3", "r", "purchase", 4*d+h, 80, nil)},
		}, ""},
		{"an earlier first exposure arriving late", [][]experiments.Event{
			{conversion("f-c0", "f", "purchase", d+h, 250, nil), // before the exposure: not attributed yet
				exposure("f-e2", "f", "exp", "treat", 2*d, nil, "push"), conversion("f-c1", "f", "purchase", 2*d+h, 400, nil),
				conversion("f-c2", "f", "purchase", 3*d+h, 100, nil)},
			{exposure("f-e1", "f", "exp", "treat", d, nil, "")}, // the first exposure, a day earlier
		}, ""},
		{"a unit turning multiple", [][]experiments.Event{
			{exposure("m-e1", "m", "exp", "treat", h, nil, ""), conversion("m-c1", "m", "purchase", 2*h, 300, nil),
				conversion("m-c2", "m", "purchase", d+h, 200, nil)},
			{exposure("m-e2", "m", "exp", "control", 2*d, nil, "")},
			{conversion("m-c3", "m", "purchase", 3*d, 100, nil)},
			// and one whose other variant comes first, late
			{exposure("n-e2", "n", "exp", "treat", d, nil, ""), conversion("n-c1", "n", "purchase", d+h, 70, nil)},
			{exposure("n-e1", "n", "exp", "control", h, nil, "")},
		}, ""},
		// Squares past int64 (6.25·10¹⁸ each, in two slices), as in a
		// currency of large nominal amounts: the sums must add up.
		{"amounts whose squares add up past int64", [][]experiments.Event{
			{exposure("g-e", "g", "exp", "control", 5*h, nil, ""), conversion("g-c1", "g", "purchase", 6*h, 2_500_000_000, nil)},
			{exposure("k-e", "k", "exp", "control", 7*h, nil, "push"), conversion("k-c1", "k", "purchase", 8*h, 2_500_000_000, nil)},
		}, ""},
		{"erasure", [][]experiments.Event{
			{exposure("x-e", "x", "exp", "control", h, nil, ""), conversion("x-c1", "x", "purchase", 2*h, 800, nil),
				conversion("x-c2", "x", "purchase", 2*d, 900, nil)},
			{refund("x-f", "x", "o-x-c1", 3*d, 100)},
		}, "x"},
	}
}

// ingestCase creates experiment "exp" (7-day window) in s, ingests
// incrementalBase and the batches of tc, and erases tc.erase.
func ingestCase(t *testing.T, s experiments.Store, tc incrementalCase) {
	t.Helper()
	createExp(t, s, "exp", 7*24*time.Hour)
	ingest(t, s, incrementalBase())
	for _, b := range tc.batches {
		ingest(t, s, b)
	}
	if tc.erase != "" {
		_, err := experiments.NewService(s, nil).EraseCustomer(ctx(t), rightsAdmin, tc.erase)
		must(t, err)
	}
}

// checkRollupsClean fails t unless s, when it keeps rollups, finds them
// all right (CheckRollups).
func checkRollupsClean(t *testing.T, s experiments.Store) {
	t.Helper()
	if rm, ok := s.(RollupMaintainer); ok {
		diffs, err := rm.CheckRollups(ctx(t))
		must(t, err)
		if len(diffs) != 0 {
			t.Fatalf("CheckRollups: %q", diffs)
		}
	}
}

// testSeriesIncremental checks the per-day sums the daily series reads
// (kept at ingest, sqlstore/seriessums.go) after each history of
// incrementalCases: SeriesStats against the recomputation from the raw
// events (compareSeries) at every midnight and at a last cut-off after
// all data, so that every day comes from the sums, and at last cut-offs
// inside the data, and CheckRollups clean.
func testSeriesIncremental(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	d, h := 24*time.Hour, time.Hour
	for _, tc := range incrementalCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ss, ok := s.(experiments.SeriesStore)
			if !ok {
				t.Fatalf("%T has no SeriesStats", s)
			}
			ingestCase(t, s, tc)
			var midnights []time.Time
			for at := -d; at <= 5*d; at += d {
				midnights = append(midnights, t0.Add(at))
			}
			compareSeries(t, s, ss, "exp", append(midnights, t0.Add(6*d+h)))
			// After the last conversion of day 3 in some cases (that day
			// then read from the sums), before later ones in others.
			compareSeries(t, s, ss, "exp", append(midnights[:5:5], t0.Add(3*d+2*h)))
			compareSeries(t, s, ss, "exp", append(midnights[:4], t0.Add(2*d+90*time.Minute)))
			checkRollupsClean(t, s)
		})
	}
}

// testSliceSums checks the per-slice sums the report's statistics read
// (kept at ingest, sqlstore/slicesums.go) after each history of
// incrementalCases: SufficientStats overall and by channel, hour and hour
// × channel, multiple-exposed units excluded or counted, the same as
// recomputed from the raw events (Until after all data), and
// CheckRollups clean.
func testSliceSums(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	for _, tc := range incrementalCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ingestCase(t, s, tc)
			for _, dim := range []string{"", experiments.DimensionChannel, experiments.DimensionHour, experiments.DimensionHourChannel} {
				for _, mode := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
					q := experiments.StatsQuery{Experiment: "exp", Dimension: dim, MultipleExposure: mode}
					got := stats(t, s, q)
					q.Until = t0.Add(30 * 24 * time.Hour)
					want := stats(t, s, q)
					what := "stats by " + dim + " " + string(mode)
					equalJSON(t, what+": variants", got.Variants, want.Variants)
					equalJSON(t, what+": metrics", got.Metrics, want.Metrics)
				}
			}
			checkRollupsClean(t, s)
		})
	}
}

// LegacySeriesRows are rollup rows of a database before migration 0029
// (SeriesBackfilled, SlicesBackfilled), relative to t0: units u1 (control,
// channel email, first exposed at t0+1h, purchases: 1 for 200 on day 0, 2
// for 300 on day 1) and u2 (treat, no channel, first exposed at t0+25h, 1
// purchase for 50 on day 1).
var LegacySeriesRows = struct {
	Start  time.Time
	Units  []LegacyUnit
	Dailys []LegacyDaily
}{t0, []LegacyUnit{{"u1", "control", t0.Add(time.Hour), "email", 3, 500}, {"u2", "treat", t0.Add(25 * time.Hour), "", 1, 50}},
	[]LegacyDaily{{"u1", "control", 0, 1, 200}, {"u1", "control", 1, 2, 300}, {"u2", "treat", 1, 1, 50}}}

// LegacyUnit is an exposures_rollup row of LegacySeriesRows (one
// exposure), with its unit_metrics row of purchases (Count, Revenue).
type LegacyUnit struct {
	Unit, Variant  string
	First          time.Time
	Channel        string
	Count, Revenue int64
}

// LegacyDaily is a unit_metrics_daily row of LegacySeriesRows (metric
// purchase; Day counts from t0's day).
type LegacyDaily struct {
	Unit, Variant       string
	Day, Count, Revenue int64
}

// SeriesBackfilled checks a store of experiment "exp" just upgraded by
// migration 0029 from the rollup rows of LegacySeriesRows: the series
// read from the sums the migration filled in has, worked out by hand,
// the running totals and their squares at each midnight.
func SeriesBackfilled(t *testing.T, s experiments.Store) {
	t.Helper()
	ss := s.(experiments.SeriesStore)
	d := 24 * time.Hour
	cuts := []time.Time{t0.Add(d), t0.Add(2 * d), t0.Add(3 * d)}
	got, err := ss.SeriesStats(ctx(t), experiments.StatsQuery{Experiment: "exp", MultipleExposure: experiments.MultipleExclude}, cuts)
	must(t, err)
	type want struct {
		units                          [2]int64 // control, treat
		count, countSq, rev, revSq, rc [2]float64
	}
	for i, w := range []want{
		{[2]int64{1, 0}, [2]float64{1, 0}, [2]float64{1, 0}, [2]float64{200, 0}, [2]float64{40000, 0}, [2]float64{200, 0}},
		// u1: 3 purchases for 500; u2: 1 for 50.
		{[2]int64{1, 1}, [2]float64{3, 1}, [2]float64{9, 1}, [2]float64{500, 50}, [2]float64{250000, 2500}, [2]float64{1500, 50}},
		{[2]int64{1, 1}, [2]float64{3, 1}, [2]float64{9, 1}, [2]float64{500, 50}, [2]float64{250000, 2500}, [2]float64{1500, 50}},
	} {
		units := map[string]int64{}
		for _, v := range got[i].Variants {
			units[v.Variant] = v.Units
		}
		sums := map[string]experiments.MetricSums{}
		for _, m := range got[i].Metrics {
			if m.Metric == "purchase" {
				sums[m.Variant] = m
			}
		}
		for k, v := range []string{"control", "treat"} {
			m := sums[v]
			if units[v] != w.units[k] || m.Count != w.count[k] || m.CountSquares != w.countSq[k] || m.Revenue != w.rev[k] ||
				m.RevenueSquares != w.revSq[k] || m.RevenueCount != w.rc[k] {
				t.Errorf("at %s %s: %d units, %+v; want %d units, count %v (squares %v), revenue %v (squares %v), revenue×count %v",
					cuts[i].Format(time.RFC3339), v, units[v], m, w.units[k], w.count[k], w.countSq[k], w.rev[k], w.revSq[k], w.rc[k])
			}
		}
	}
}

// SlicesBackfilled checks a store of experiment "exp" just upgraded by
// migration 0030 from the rollup rows of LegacySeriesRows: the statistics
// by channel, read from the slice sums the migration filled in, worked out
// by hand.
func SlicesBackfilled(t *testing.T, s experiments.Store) {
	t.Helper()
	got := stats(t, s, experiments.StatsQuery{Experiment: "exp", Dimension: experiments.DimensionChannel})
	wantStats(t, got, []vc{{Slice: experiments.NoSlice, Variant: "treat", Units: 1, Exposures: 1},
		{Slice: "email", Variant: "control", Units: 1, Exposures: 1}},
		[]ms{{Slice: experiments.NoSlice, Variant: "treat", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1,
			Revenue: 50, RevenueSquares: 2500, RevenueCount: 50},
			{Slice: "email", Variant: "control", Metric: "purchase", Converted: 1, Count: 3, CountSquares: 9,
				Revenue: 500, RevenueSquares: 250000, RevenueCount: 1500}})
}
