package storetest

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// cohortFixture is the data set of testCohorts. Experiment "coh", window
// 24h, day = 24h, week = 7 days; "-3d" is 3 days before t0.
//
//	a1 control (channel push), exposed at 0: purchases at -3d (1000, pre-period),
//	   +1h (500, its first), +2d (300, week 1), +8d (200) and +9d (100) (week 2);
//	   a signup at +2d (another metric)
//	a2 control, exposed at 0: purchases at -40d (5000, before the pre-period)
//	   and +1h (800, its only one)
//	a3 control, exposed at +10d: purchases at +9d (400, pre-period), +10d+1h
//	   (600, first) and +10d+2h (50, week 1)
//	b1 treat, exposed at 0: purchases at -27d (2000, pre-period), +1d (700,
//	   first; at the window's end) and +14d (60, exactly the start of week 3)
//	b2 treat then control at +1h: multiple exposure; purchases at -1d (100,
//	   pre-period), +2d (first) and +3d (week 1)
//	b3 treat, exposed at 0: a purchase at exactly -28d (300, pre-period), none after
func cohortFixture() []experiments.Event {
	h, d := time.Hour, 24*time.Hour
	return []experiments.Event{
		exposure("k-a1", "a1", "coh", "control", 0, nil, "push"),
		conversion("k-a1-0", "a1", "purchase", -3*d, 1000, nil),
		conversion("k-a1-1", "a1", "purchase", 1*h, 500, nil),
		conversion("k-a1-2", "a1", "purchase", 2*d, 300, nil),
		conversion("k-a1-3", "a1", "purchase", 8*d, 200, nil),
		conversion("k-a1-4", "a1", "purchase", 9*d, 100, nil),
		conversion("k-a1-5", "a1", "signup", 2*d, 0, nil),
		exposure("k-a2", "a2", "coh", "control", 0, nil, ""),
		conversion("k-a2-0", "a2", "purchase", -40*d, 5000, nil),
		conversion("k-a2-1", "a2", "purchase", 1*h, 800, nil),
		exposure("k-a3", "a3", "coh", "control", 10*d, nil, ""),
		conversion("k-a3-0", "a3", "purchase", 9*d, 400, nil),
		conversion("k-a3-1", "a3", "purchase", 10*d+1*h, 600, nil),
		conversion("k-a3-2", "a3", "purchase", 10*d+2*h, 50, nil),
		exposure("k-b1", "b1", "coh", "treat", 0, nil, ""),
		conversion("k-b1-0", "b1", "purchase", -27*d, 2000, nil),
		conversion("k-b1-1", "b1", "purchase", 1*d, 700, nil),
		conversion("k-b1-2", "b1", "purchase", 14*d, 60, nil),
		exposure("k-b2", "b2", "coh", "treat", 0, nil, ""),
		exposure("k-b2x", "b2", "coh", "control", 1*h, nil, ""),
		conversion("k-b2-0", "b2", "purchase", -1*d, 100, nil),
		conversion("k-b2-1", "b2", "purchase", 2*d, 10, nil),
		conversion("k-b2-2", "b2", "purchase", 3*d, 10, nil),
		exposure("k-b3", "b3", "coh", "treat", 0, nil, ""),
		conversion("k-b3-0", "b3", "purchase", -28*d, 300, nil),
	}
}

type cohortRows = []experiments.CohortRow

// testCohorts checks the repurchase cohorts (CohortStore) and the CUPED
// pre-period sums of SufficientStats against hand-computed values.
func testCohorts(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	createExp(t, s, "coh", 24*time.Hour)
	ingest(t, s, cohortFixture())
	d := 24 * time.Hour

	t.Run("PrePeriod", func(t *testing.T) {
		// Attributed revenue y (24h window): a1 500, a2 800, a3 600+50,
		// b1 700 (at +24h exactly), b3 0; b2 is excluded.
		// Pre-period revenue x (28 days before the first exposure,
		// [f−28d, f)): a1 1000, a2 0 (-40d is too early), a3 400 (+9d is
		// before its exposure at +10d), b1 2000, b3 300 (-28d is included).
		control := ms{Variant: "control", Metric: "purchase", Converted: 3, Count: 4, CountSquares: 1 + 1 + 4,
			Revenue: 500 + 800 + 650, RevenueSquares: 500*500 + 800*800 + 650*650, RevenueCount: 500 + 800 + 650*2,
			PreSum: 1000 + 400, PreSumSquares: 1000*1000 + 400*400, PreCrossSum: 1000*500 + 400*650}
		treat := ms{Variant: "treat", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1,
			Revenue: 700, RevenueSquares: 700 * 700, RevenueCount: 700,
			PreSum: 2000 + 300, PreSumSquares: 2000*2000 + 300*300, PreCrossSum: 2000 * 700}
		got := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "coh"})
		equalJSON(t, "metrics", got.Metrics, []ms{control, treat})

		// Without PrePeriod the pre-period sums are not computed.
		noPre := func(m ms) ms { m.PreSum, m.PreSumSquares, m.PreCrossSum = 0, 0, 0; return m }
		got = stats(t, s, experiments.StatsQuery{Experiment: "coh"})
		equalJSON(t, "metrics without PrePeriod", got.Metrics, []ms{noPre(control), noPre(treat)})

		// With multiple-exposed units counted, b2 (x = 100, y = 0) joins treat.
		got = stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "coh", MultipleExposure: experiments.MultipleFirst})
		treatFirst := treat
		treatFirst.PreSum, treatFirst.PreSumSquares = 2000+300+100, 2000*2000+300*300+100*100
		equalJSON(t, "metrics (first)", got.Metrics[1], treatFirst)

		// Until +10d+90m: a3's second purchase has not happened (y = 600).
		got = stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "coh", Until: t0.Add(10*d + 90*time.Minute)})
		controlUntil := control
		controlUntil.Count, controlUntil.CountSquares = 3, 3
		controlUntil.Revenue, controlUntil.RevenueSquares, controlUntil.RevenueCount = 500+800+600, 500*500+800*800+600*600, 500+800+600
		controlUntil.PreCrossSum = 1000*500 + 400*600
		equalJSON(t, "metrics (until)", got.Metrics, []ms{controlUntil, treat})

		// By channel: a1 is the only unit of slice push.
		got = stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "coh", Dimension: "channel"})
		for _, m := range got.Metrics {
			var want [3]float64
			switch {
			case m.Slice == "push" && m.Variant == "control":
				want = [3]float64{1000, 1000 * 1000, 1000 * 500}
			case m.Slice == experiments.NoSlice && m.Variant == "control":
				want = [3]float64{400, 400 * 400, 400 * 650}
			case m.Slice == experiments.NoSlice && m.Variant == "treat":
				want = [3]float64{treat.PreSum, treat.PreSumSquares, treat.PreCrossSum}
			default:
				t.Fatalf("unexpected slice %+v", m)
			}
			if g := [3]float64{m.PreSum, m.PreSumSquares, m.PreCrossSum}; g != want {
				t.Errorf("slice %s/%s: pre-period sums %v, want %v", m.Slice, m.Variant, g, want)
			}
		}
		checkRollups(t, s)
	})

	cs, ok := s.(experiments.CohortStore)
	if !ok {
		t.Skip("the store does not implement experiments.CohortStore")
	}
	cohorts := func(t *testing.T, q experiments.StatsQuery, metric string, weeks int) cohortRows {
		t.Helper()
		if q.MultipleExposure == "" {
			q.MultipleExposure = experiments.MultipleExclude
		}
		rows, err := cs.CohortStats(ctx(t), q, metric, weeks)
		must(t, err)
		return rows
	}
	t.Run("Cohorts", func(t *testing.T) {
		// At +21d units exposed at 0 have completed weeks 1–3, a3 (exposed
		// at +10d) week 1 only. Repurchases (a purchase after the unit's
		// first since exposure): a1 in weeks 1 (+2d) and 2 (+8d, +9d), a3
		// in week 1, b1 in week 3 (+14d is the first instant of week 3).
		q := experiments.StatsQuery{Experiment: "coh", Until: t0.Add(21 * d)}
		equalJSON(t, "cohorts", cohorts(t, q, "purchase", 4), cohortRows{
			{Variant: "control", Week: 1, Units: 3, Repurchasers: 2},
			{Variant: "control", Week: 2, Units: 2, Repurchasers: 1},
			{Variant: "control", Week: 3, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 1, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 2, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 3, Units: 2, Repurchasers: 1},
		})
		// AsOf instead of Until: the units come from the rollups, with the
		// same cut-off; the fixture has no exposure after it, so the
		// answer is the same.
		equalJSON(t, "cohorts (as of)", cohorts(t, experiments.StatsQuery{Experiment: "coh", AsOf: q.Until}, "purchase", 4),
			cohorts(t, q, "purchase", 4))
		// Two weeks asked: weeks 1 and 2 only.
		equalJSON(t, "cohorts (2 weeks)", cohorts(t, q, "purchase", 2), cohortRows{
			{Variant: "control", Week: 1, Units: 3, Repurchasers: 2},
			{Variant: "control", Week: 2, Units: 2, Repurchasers: 1},
			{Variant: "treat", Week: 1, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 2, Units: 2, Repurchasers: 0},
		})
		// b2 counts in treat with MultipleFirst: a repurchase in week 1.
		q.MultipleExposure = experiments.MultipleFirst
		equalJSON(t, "cohorts (first)", cohorts(t, q, "purchase", 4), cohortRows{
			{Variant: "control", Week: 1, Units: 3, Repurchasers: 2},
			{Variant: "control", Week: 2, Units: 2, Repurchasers: 1},
			{Variant: "control", Week: 3, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 1, Units: 3, Repurchasers: 1},
			{Variant: "treat", Week: 2, Units: 3, Repurchasers: 0},
			{Variant: "treat", Week: 3, Units: 3, Repurchasers: 1},
		})
		// Without Until the cut-off is now, long after the fixture: every
		// unit has completed every week (a3's week 2 is [+17d, +24d)).
		equalJSON(t, "cohorts (now)", cohorts(t, experiments.StatsQuery{Experiment: "coh"}, "purchase", 4), cohortRows{
			{Variant: "control", Week: 1, Units: 3, Repurchasers: 2},
			{Variant: "control", Week: 2, Units: 3, Repurchasers: 1},
			{Variant: "control", Week: 3, Units: 3, Repurchasers: 0},
			{Variant: "control", Week: 4, Units: 3, Repurchasers: 0},
			{Variant: "treat", Week: 1, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 2, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 3, Units: 2, Repurchasers: 1},
			{Variant: "treat", Week: 4, Units: 2, Repurchasers: 0},
		})
		// At +7d: only units exposed at 0 have completed week 1.
		equalJSON(t, "cohorts (+7d)", cohorts(t, experiments.StatsQuery{Experiment: "coh", Until: t0.Add(7 * d)}, "purchase", 4), cohortRows{
			{Variant: "control", Week: 1, Units: 2, Repurchasers: 1},
			{Variant: "treat", Week: 1, Units: 2, Repurchasers: 0},
		})
		// a1's only signup is its first: no repurchase. An unknown experiment: no rows.
		equalJSON(t, "cohorts (signup)", cohorts(t, experiments.StatsQuery{Experiment: "coh", Until: t0.Add(7 * d)}, "signup", 1), cohortRows{
			{Variant: "control", Week: 1, Units: 2, Repurchasers: 0},
			{Variant: "treat", Week: 1, Units: 2, Repurchasers: 0},
		})
		if rows := cohorts(t, experiments.StatsQuery{Experiment: "nope"}, "purchase", 4); len(rows) != 0 {
			t.Fatalf("cohorts of an unknown experiment: %+v", rows)
		}
	})
}

// testWeeksRollup: the report's pre-period sums and cohorts, read from the
// rollups (unit_weeks), stay equal to their recomputation from the raw
// events (the same queries with Until) and to hand-computed values while
// events arrive out of order: conversions before and long after the
// exposure that arrive late, a refund, a unit whose conversions came before
// its exposure (an exposure-only batch, the group commit's path), an
// earlier first exposure delivered late (in a mixed and in an
// exposure-only batch), and the erasure of a customer. CheckRollups stays
// clean after each step.
func testWeeksRollup(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	createExp(t, s, "wk", 24*time.Hour)
	cs, isCohorts := s.(experiments.CohortStore)
	d, h := 24*time.Hour, time.Hour
	later := t0.Add(365 * d)
	// same compares the rollup reads with the raw recomputation and
	// returns the rollups' pre-period sums of purchase per variant and
	// cohorts over 4 weeks.
	same := func(t *testing.T) (map[string][3]float64, cohortRows) {
		t.Helper()
		checkRollups(t, s)
		pre := map[string][3]float64{}
		for _, mult := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
			q := experiments.StatsQuery{PrePeriod: true, Experiment: "wk", MultipleExposure: mult}
			got := stats(t, s, q)
			q.Until = later
			want := stats(t, s, q)
			equalJSON(t, "pre-period sums from the rollups vs the raw events ("+string(mult)+")", got.Metrics, want.Metrics)
			for _, m := range got.Metrics {
				if mult == experiments.MultipleExclude && m.Metric == "purchase" {
					pre[m.Variant] = [3]float64{m.PreSum, m.PreSumSquares, m.PreCrossSum}
				}
			}
		}
		if !isCohorts {
			return pre, nil
		}
		var rows cohortRows
		for _, mult := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
			got, err := cs.CohortStats(ctx(t), experiments.StatsQuery{Experiment: "wk", AsOf: t0.Add(30 * d), MultipleExposure: mult}, "purchase", 4)
			must(t, err)
			want, err := cs.CohortStats(ctx(t), experiments.StatsQuery{Experiment: "wk", Until: t0.Add(30 * d), MultipleExposure: mult}, "purchase", 4)
			must(t, err)
			equalJSON(t, "cohorts from the rollups vs the raw events ("+string(mult)+")", got, want)
			if mult == experiments.MultipleExclude {
				rows = got
			}
		}
		return pre, rows
	}

	// u1 control exposed at 0, purchases at +2d (300) and +3d (100).
	ingest(t, s, []experiments.Event{
		exposure("w-u1", "u1", "wk", "control", 0, nil, ""),
		conversion("w-u1-1", "u1", "purchase", 2*d, 300, nil),
		conversion("w-u1-2", "u1", "purchase", 3*d, 100, nil),
		exposure("w-v1", "v1", "wk", "treat", 0, nil, ""),
		conversion("w-v1-1", "v1", "purchase", 1*h, 50, nil),
	})
	t.Run("LateConversions", func(t *testing.T) {
		// Late: a pre-period purchase (-5d, 1000), one too early for it
		// (-29d), an attributed one (+1h, 500) and one of week 2 (+9d).
		ingest(t, s, []experiments.Event{
			conversion("w-u1-0", "u1", "purchase", -5*d, 1000, nil),
			conversion("w-u1-00", "u1", "purchase", -29*d, 7000, nil),
			conversion("w-u1-3", "u1", "purchase", 1*h, 500, nil),
			conversion("w-u1-4", "u1", "purchase", 9*d, 40, nil),
		})
		pre, rows := same(t)
		// x = 1000, y = 500 (only +1h is in the 24 h window).
		if want := [3]float64{1000, 1000 * 1000, 1000 * 500}; pre["control"] != want {
			t.Fatalf("control pre-period sums %v, want %v", pre["control"], want)
		}
		if isCohorts {
			// u1: first at +1h; repurchases in week 1 (+2d, +3d) and
			// week 2 (+9d); v1: only its first.
			equalJSON(t, "cohorts", rows, cohortRows{
				{Variant: "control", Week: 1, Units: 1, Repurchasers: 1},
				{Variant: "control", Week: 2, Units: 1, Repurchasers: 1},
				{Variant: "control", Week: 3, Units: 1, Repurchasers: 0},
				{Variant: "control", Week: 4, Units: 1, Repurchasers: 0},
				{Variant: "treat", Week: 1, Units: 1, Repurchasers: 0},
				{Variant: "treat", Week: 2, Units: 1, Repurchasers: 0},
				{Variant: "treat", Week: 3, Units: 1, Repurchasers: 0},
				{Variant: "treat", Week: 4, Units: 1, Repurchasers: 0},
			})
		}
	})
	t.Run("Refund", func(t *testing.T) {
		// A refund of u1's +2d order and a pre-period refund of v1 (its
		// own name, with revenue).
		ingest(t, s, []experiments.Event{
			refund("w-u1-r", "u1", "o-w-u1-1", 4*d, 0),
			conversion("w-v1-0", "v1", "purchase", -3*d, 80, nil),
			refund("w-v1-r", "v1", "o-w-v1-0", -2*d, 80),
		})
		pre, _ := same(t)
		if want := [3]float64{80, 80 * 80, 80 * 50}; pre["treat"] != want {
			t.Fatalf("treat pre-period sums %v, want %v", pre["treat"], want)
		}
	})
	t.Run("ConversionsBeforeTheExposure", func(t *testing.T) {
		// u2's purchases arrive first (-10d pre-period, +1d, +9d), then
		// its exposure alone, as the group commit stores it.
		ingest(t, s, []experiments.Event{
			conversion("w-u2-0", "u2", "purchase", -10*d, 200, nil),
			conversion("w-u2-1", "u2", "purchase", 1*d, 30, nil),
			conversion("w-u2-2", "u2", "purchase", 9*d, 20, nil),
		})
		ingest(t, s, []experiments.Event{exposure("w-u2", "u2", "wk", "control", 0, nil, "")})
		pre, _ := same(t)
		if want := [3]float64{1000 + 200, 1000*1000 + 200*200, 1000*500 + 200*30}; pre["control"] != want {
			t.Fatalf("control pre-period sums %v, want %v", pre["control"], want)
		}
	})
	t.Run("EarlierFirstExposureArrivesLate", func(t *testing.T) {
		// u1's first exposure moves to -6d (a mixed batch): -5d is no longer
		// pre-period but attributed (exactly 24 h after),
		// the -29d purchase now is (23 days before). u2's moves to -12d in
		// an exposure-only batch: none of its purchases is then in its
		// pre-period or its 24 h window.
		ingest(t, s, []experiments.Event{
			exposure("w-u1-early", "u1", "wk", "control", -6*d, nil, ""),
			conversion("w-u1-5", "u1", "purchase", 20*d, 5, nil),
		})
		ingest(t, s, []experiments.Event{exposure("w-u2-early", "u2", "wk", "control", -12*d, nil, "")})
		pre, _ := same(t)
		// u1: x = 7000 (-29d is within [-34d, -6d)), y = 1000 (-5d);
		// u2: x = 0.
		if want := [3]float64{7000, 7000 * 7000, 7000 * 1000}; pre["control"] != want {
			t.Fatalf("control pre-period sums %v, want %v", pre["control"], want)
		}
	})
	t.Run("Erasure", func(t *testing.T) {
		if _, ok := s.(experiments.CustomerStore); !ok {
			t.Skip("the store cannot erase customers")
		}
		svc := experiments.NewService(s, nil)
		_, err := svc.EraseCustomer(ctx(t), rightsAdmin, "u1")
		must(t, err)
		pre, _ := same(t)
		if pre["control"] != [3]float64{} {
			t.Fatalf("control pre-period sums %v after u1's erasure, want none", pre["control"])
		}
		if db, ok := s.(rawDB); ok {
			var n int
			must(t, db.DB().GetContext(ctx(t), &n, db.DB().Rebind(`SELECT COUNT(*) FROM unit_weeks WHERE unit_id = ?`), "u1"))
			if n != 0 {
				t.Fatalf("%d unit_weeks rows of the erased u1", n)
			}
		}
	})
}

// UpgradeWeeksEvents are raw events an upgrade test writes into a database
// of version 26 (before unit_weeks), with UpgradeWeeksUnit's exposure in
// exposures_rollup: unit u1 of experiment "wk" (not in the experiments
// table), exposed at t0 (UpgradeWeeksT0), with purchases before its
// pre-period (-29d), in it (-3d), in week 1 (+1h, +2d), in week 2 (+8d),
// and one of another environment (+1d), which counts nowhere.
func UpgradeWeeksEvents() []experiments.Event {
	d := 24 * time.Hour
	staging := conversion("up-5", "u1", "purchase", 1*d, 77, nil)
	staging.Environment = "staging"
	return []experiments.Event{
		exposure("up-x", "u1", "wk", "control", 0, nil, ""),
		conversion("up-0", "u1", "purchase", -29*d, 9999, nil),
		conversion("up-1", "u1", "purchase", -3*d, 1000, nil),
		conversion("up-2", "u1", "purchase", time.Hour, 500, nil),
		conversion("up-3", "u1", "purchase", 2*d, 300, nil),
		conversion("up-4", "u1", "purchase", 8*d, 100, nil),
		staging,
	}
}

// UpgradeWeeksT0 is the time the offsets of UpgradeWeeksEvents count from.
var UpgradeWeeksT0 = t0

// WantUpgradedWeeks checks the unit_weeks rows migration 0027 wrote from
// UpgradeWeeksEvents.
func WantUpgradedWeeks(t *testing.T, s experiments.Store) {
	t.Helper()
	db := s.(rawDB).DB()
	type row struct {
		Metric      string `db:"metric"`
		Week        int64  `db:"week"`
		Conversions int64  `db:"conversions"`
		Revenue     int64  `db:"revenue"`
	}
	var got []row
	must(t, db.SelectContext(ctx(t), &got, `SELECT metric, week, conversions, revenue FROM unit_weeks
		WHERE experiment = 'wk' AND unit_id = 'u1' ORDER BY metric, week`))
	equalJSON(t, "unit_weeks after the upgrade", got, []row{
		{Metric: "purchase", Week: 0, Conversions: 1, Revenue: 1000},
		{Metric: "purchase", Week: 1, Conversions: 2, Revenue: 800},
		{Metric: "purchase", Week: 2, Conversions: 1, Revenue: 100},
	})
}
