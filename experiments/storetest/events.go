package storetest

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

func exposure(id, unit, exp, variant string, at time.Duration, attrs map[string]string, channel string) experiments.Event {
	return experiments.Event{ID: id, Type: experiments.EventExposure, UnitID: unit, Timestamp: t0.Add(at),
		Experiment: exp, Variant: variant, Attributes: attrs, Channel: channel, ReceivedAt: t0.Add(100 * time.Hour)}
}

func conversion(id, unit, name string, at time.Duration, revenue int64, cost *int64) experiments.Event {
	e := experiments.Event{ID: id, Type: experiments.EventConversion, UnitID: unit, Timestamp: t0.Add(at),
		Name: name, Revenue: revenue, PromotionCost: cost, OrderID: "o-" + id, ReceivedAt: t0.Add(100 * time.Hour)}
	if revenue != 0 || cost != nil {
		e.Currency = "KRW"
	}
	return e
}

// createExp stores a running experiment with variants control and treat
// and the given attribution window.
func createExp(t *testing.T, s experiments.Store, key string, window time.Duration) *experiments.Experiment {
	t.Helper()
	e := &experiments.Experiment{Key: key, Variants: []experiments.Variant{
		{Key: "control", Weight: 0.5}, {Key: "treat", Weight: 0.5}}, AttributionWindow: window}
	e.ApplyDefaults()
	e.Status = experiments.StatusRunning
	e.CreatedAt, e.UpdatedAt = t0, t0
	must(t, s.CreateExperiment(ctx(t), e))
	return e
}

// fixture is the small data set whose statistics are computed by hand in
// the tests below. Experiment "exp", window 24h.
//
//	u1 control (KR, push): purchases at +2h (1000, cost 100) and +3h (500)
//	u2 control (JP, email): exposed twice, no conversions
//	u3 treat (KR): purchase at -1h (before exposure: not counted), +23h (2000,
//	   cost 300), +25h (after the window: not counted); signup at +1h
//	u4 treat then control: multiple exposure; purchase at +3h (400)
//	u5 treat (no attributes): two purchases at +4h (100 each)
func fixture() []experiments.Event {
	h := time.Hour
	return []experiments.Event{
		exposure("e1", "u1", "exp", "control", 1*h, map[string]string{"country": "KR"}, "push"),
		conversion("c1", "u1", "purchase", 2*h, 1000, ptr[int64](100)),
		conversion("c2", "u1", "purchase", 3*h, 500, nil),
		exposure("e2", "u2", "exp", "control", 0, map[string]string{"country": "JP"}, "email"),
		exposure("e3", "u2", "exp", "control", 5*h, map[string]string{"country": "US"}, "web"),
		exposure("e4", "u3", "exp", "treat", 0, map[string]string{"country": "KR"}, ""),
		conversion("c3", "u3", "purchase", -1*h, 700, nil),
		conversion("c4", "u3", "purchase", 23*h, 2000, ptr[int64](300)),
		conversion("c5", "u3", "purchase", 25*h, 900, nil),
		conversion("c6", "u3", "signup", 1*h, 0, nil),
		exposure("e5", "u4", "exp", "treat", 1*h, nil, ""),
		exposure("e6", "u4", "exp", "control", 2*h, nil, ""),
		conversion("c7", "u4", "purchase", 3*h, 400, nil),
		exposure("e7", "u5", "exp", "treat", 2*h, nil, ""),
		conversion("c8", "u5", "purchase", 4*h, 100, nil),
		conversion("c9", "u5", "purchase", 4*h, 100, nil),
	}
}

type ms = experiments.MetricSums
type vc = experiments.VariantCounts

func stats(t *testing.T, s experiments.Store, q experiments.StatsQuery) *experiments.SufficientStats {
	t.Helper()
	if q.MultipleExposure == "" {
		q.MultipleExposure = experiments.MultipleExclude
	}
	st, err := s.SufficientStats(ctx(t), q)
	must(t, err)
	return st
}

func wantStats(t *testing.T, got *experiments.SufficientStats, variants []vc, metrics []ms) {
	t.Helper()
	equalJSON(t, "variants", got.Variants, variants)
	equalJSON(t, "metrics", got.Metrics, metrics)
}

func ingest(t *testing.T, s experiments.Store, evs []experiments.Event) []bool {
	t.Helper()
	dup, err := s.IngestEvents(ctx(t), evs)
	must(t, err)
	if len(dup) != len(evs) {
		t.Fatalf("IngestEvents returned %d results for %d events", len(dup), len(evs))
	}
	return dup
}

func countNew(dup []bool) int {
	n := 0
	for _, d := range dup {
		if !d {
			n++
		}
	}
	return n
}

// fixtureExclude is the hand-computed answer for the fixture with
// multiple-exposed units excluded.
var (
	fixtureVariants = []vc{
		{Variant: "control", Units: 2, Exposures: 3, MultipleExposed: 0},
		{Variant: "treat", Units: 2, Exposures: 2, MultipleExposed: 1},
	}
	fixtureMetrics = []ms{
		{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4, Revenue: 1500,
			RevenueSquares: 1500 * 1500, RevenueCount: 3000, Cost: 100},
		{Variant: "control", Metric: "signup"},
		{Variant: "treat", Metric: "purchase", Converted: 2, Count: 3, CountSquares: 5, Revenue: 2200,
			RevenueSquares: 2000*2000 + 200*200, RevenueCount: 2000 + 400, Cost: 300,
			PreSum: 700, PreSumSquares: 700 * 700, PreCrossSum: 700 * 2000}, // u3's purchase at -1h
		{Variant: "treat", Metric: "signup", Converted: 1, Count: 1, CountSquares: 1},
	}
)

func testEvents(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	t.Run("Fixture", func(t *testing.T) {
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		evs := fixture()
		if dup := ingest(t, s, evs); countNew(dup) != len(evs) {
			t.Fatalf("first ingest: duplicates %v", dup)
		}
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"}), fixtureVariants, fixtureMetrics)

		// The same batch again: all duplicates, nothing changes.
		dup := ingest(t, s, evs)
		if countNew(dup) != 0 {
			t.Fatalf("second ingest stored %d events again: %v", countNew(dup), dup)
		}
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"}), fixtureVariants, fixtureMetrics)
		checkRollups(t, s)

		t.Run("MultipleFirst", func(t *testing.T) {
			wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", MultipleExposure: experiments.MultipleFirst}),
				[]vc{fixtureVariants[0], {Variant: "treat", Units: 3, Exposures: 4, MultipleExposed: 1}},
				[]ms{fixtureMetrics[0], fixtureMetrics[1],
					{Variant: "treat", Metric: "purchase", Converted: 3, Count: 4, CountSquares: 6, Revenue: 2600,
						RevenueSquares: 2000*2000 + 200*200 + 400*400, RevenueCount: 2000 + 400 + 400, Cost: 300,
						PreSum: 700, PreSumSquares: 700 * 700, PreCrossSum: 700 * 2000},
					fixtureMetrics[3]})
		})
		t.Run("DimensionAttribute", func(t *testing.T) {
			wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Dimension: "country"}),
				[]vc{
					{Slice: experiments.NoSlice, Variant: "treat", Units: 1, Exposures: 1, MultipleExposed: 1},
					{Slice: "JP", Variant: "control", Units: 1, Exposures: 2},
					{Slice: "KR", Variant: "control", Units: 1, Exposures: 1},
					{Slice: "KR", Variant: "treat", Units: 1, Exposures: 1},
				},
				[]ms{
					{Slice: experiments.NoSlice, Variant: "treat", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
						Revenue: 200, RevenueSquares: 40000, RevenueCount: 400},
					{Slice: experiments.NoSlice, Variant: "treat", Metric: "signup"},
					{Slice: "JP", Variant: "control", Metric: "purchase"},
					{Slice: "JP", Variant: "control", Metric: "signup"},
					{Slice: "KR", Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4, Revenue: 1500,
						RevenueSquares: 1500 * 1500, RevenueCount: 3000, Cost: 100},
					{Slice: "KR", Variant: "control", Metric: "signup"},
					{Slice: "KR", Variant: "treat", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1, Revenue: 2000,
						RevenueSquares: 2000 * 2000, RevenueCount: 2000, Cost: 300,
						PreSum: 700, PreSumSquares: 700 * 700, PreCrossSum: 700 * 2000},
					{Slice: "KR", Variant: "treat", Metric: "signup", Converted: 1, Count: 1, CountSquares: 1},
				})
		})
		t.Run("DimensionChannel", func(t *testing.T) {
			got := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Dimension: "channel"})
			equalJSON(t, "variants", got.Variants, []vc{
				{Slice: experiments.NoSlice, Variant: "treat", Units: 2, Exposures: 2, MultipleExposed: 1},
				{Slice: "email", Variant: "control", Units: 1, Exposures: 2},
				{Slice: "push", Variant: "control", Units: 1, Exposures: 1},
			})
		})
		t.Run("DimensionHour", func(t *testing.T) {
			// The UTC hour of each unit's first exposure (t0 is midnight
			// UTC): u2, u3 at 00; u1, u4 (multiple, excluded) at 01; u5 at 02.
			wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Dimension: experiments.DimensionHour}),
				[]vc{
					{Slice: "00", Variant: "control", Units: 1, Exposures: 2},
					{Slice: "00", Variant: "treat", Units: 1, Exposures: 1},
					{Slice: "01", Variant: "control", Units: 1, Exposures: 1},
					{Slice: "01", Variant: "treat", MultipleExposed: 1},
					{Slice: "02", Variant: "treat", Units: 1, Exposures: 1},
				},
				[]ms{
					{Slice: "00", Variant: "control", Metric: "purchase"},
					{Slice: "00", Variant: "control", Metric: "signup"},
					{Slice: "00", Variant: "treat", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1, Revenue: 2000,
						RevenueSquares: 2000 * 2000, RevenueCount: 2000, Cost: 300,
						PreSum: 700, PreSumSquares: 700 * 700, PreCrossSum: 700 * 2000},
					{Slice: "00", Variant: "treat", Metric: "signup", Converted: 1, Count: 1, CountSquares: 1},
					{Slice: "01", Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4, Revenue: 1500,
						RevenueSquares: 1500 * 1500, RevenueCount: 3000, Cost: 100},
					{Slice: "01", Variant: "control", Metric: "signup"},
					{Slice: "01", Variant: "treat", Metric: "purchase"},
					{Slice: "01", Variant: "treat", Metric: "signup"},
					{Slice: "02", Variant: "treat", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
						Revenue: 200, RevenueSquares: 40000, RevenueCount: 400},
					{Slice: "02", Variant: "treat", Metric: "signup"},
				})
			// Recomputed before +2h30m: u2's second exposure is later.
			got := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Dimension: experiments.DimensionHour,
				Until: t0.Add(150 * time.Minute)})
			equalJSON(t, "variants", got.Variants, []vc{
				{Slice: "00", Variant: "control", Units: 1, Exposures: 1},
				{Slice: "00", Variant: "treat", Units: 1, Exposures: 1},
				{Slice: "01", Variant: "control", Units: 1, Exposures: 1},
				{Slice: "01", Variant: "treat", MultipleExposed: 1},
				{Slice: "02", Variant: "treat", Units: 1, Exposures: 1},
			})
		})
		t.Run("Until", func(t *testing.T) {
			// Before +2h30m: u2's second exposure, u3's attributed purchase,
			// u1's second purchase and u5's purchases have not happened.
			wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Until: t0.Add(150 * time.Minute)}),
				[]vc{
					{Variant: "control", Units: 2, Exposures: 2},
					{Variant: "treat", Units: 2, Exposures: 2, MultipleExposed: 1},
				},
				[]ms{
					{Variant: "control", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1, Revenue: 1000,
						RevenueSquares: 1e6, RevenueCount: 1000, Cost: 100},
					{Variant: "control", Metric: "signup"},
					{Variant: "treat", Metric: "purchase", PreSum: 700, PreSumSquares: 700 * 700}, // u3: no y yet
					{Variant: "treat", Metric: "signup", Converted: 1, Count: 1, CountSquares: 1},
				})
			// Until after everything equals the rollups.
			wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Until: t0.Add(1000 * time.Hour)}),
				fixtureVariants, fixtureMetrics)
		})
		t.Run("OtherExperiment", func(t *testing.T) {
			got := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "other"})
			if len(got.Variants) != 0 || len(got.Metrics) != 0 {
				t.Fatalf("stats of an experiment without events: %+v", got)
			}
		})
	})
	t.Run("EventByEvent", func(t *testing.T) {
		// The fixture sent one event at a time, in reverse order, ends
		// exactly where the single batch does.
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		evs := fixture()
		for i := len(evs) - 1; i >= 0; i-- {
			ingest(t, s, evs[i:i+1])
		}
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"}), fixtureVariants, fixtureMetrics)
		checkRollups(t, s)
	})
	t.Run("RepeatedIDInBatch", func(t *testing.T) {
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		evs := []experiments.Event{
			exposure("x1", "u1", "exp", "control", 0, nil, ""),
			conversion("x2", "u1", "purchase", time.Hour, 100, nil),
			conversion("x2", "u1", "purchase", time.Hour, 999, nil),
			exposure("x1", "u1", "exp", "treat", 0, nil, ""),
		}
		dup := ingest(t, s, evs)
		if !reflect.DeepEqual(dup, []bool{false, false, true, true}) {
			t.Fatalf("duplicates = %v", dup)
		}
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"}),
			[]vc{{Variant: "control", Units: 1, Exposures: 1}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1, Revenue: 100,
				RevenueSquares: 10000, RevenueCount: 100}})
	})
	t.Run("Attribution", func(t *testing.T) {
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		h := time.Hour
		// Conversions first, then the exposure: before the exposure arrives
		// nothing is attributed; after, exactly the ones in the window are.
		ingest(t, s, []experiments.Event{
			conversion("a1", "u1", "purchase", -time.Microsecond, 1, nil), // before exposure
			conversion("a2", "u1", "purchase", 0, 10, nil),                // at exposure: counts
			conversion("a3", "u1", "purchase", 24*h, 100, nil),            // at the window's end: counts
			conversion("a4", "u1", "purchase", 24*h+time.Microsecond, 1000, nil),
		})
		got := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"})
		if len(got.Variants) != 0 || len(got.Metrics) != 0 {
			t.Fatalf("conversions without exposure were attributed: %+v", got)
		}
		ingest(t, s, []experiments.Event{exposure("a5", "u1", "exp", "treat", 0, nil, "")})
		want := []ms{{Variant: "treat", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4, Revenue: 110,
			RevenueSquares: 110 * 110, RevenueCount: 220, PreSum: 1, PreSumSquares: 1, PreCrossSum: 110}} // a1: pre-period
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"}), []vc{{Variant: "treat", Units: 1, Exposures: 1}}, want)

		// A late exposure with an earlier timestamp moves the window to
		// [-2h, 22h]: a1 now counts, a3 no longer does.
		ingest(t, s, []experiments.Event{exposure("a6", "u1", "exp", "treat", -2*h, nil, "")})
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"}), []vc{{Variant: "treat", Units: 1, Exposures: 2}},
			[]ms{{Variant: "treat", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4, Revenue: 11,
				RevenueSquares: 11 * 11, RevenueCount: 22}})

		// A conversion counts for every experiment the unit is exposed to,
		// each with its own window.
		createExp(t, s, "exp2", time.Hour)
		ingest(t, s, []experiments.Event{exposure("a7", "u1", "exp2", "control", 21*h, map[string]string{"k": "v"}, "")})
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp2"}), []vc{{Variant: "control", Units: 1, Exposures: 1}}, nil)
		ingest(t, s, []experiments.Event{conversion("a8", "u1", "purchase", 21*h+30*time.Minute, 5, ptr[int64](2))})
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp2"}), []vc{{Variant: "control", Units: 1, Exposures: 1}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1, Revenue: 5,
				RevenueSquares: 25, RevenueCount: 5, Cost: 2, PreSum: 11, PreSumSquares: 121, PreCrossSum: 55}}) // a1, a2: pre-period
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"}), []vc{{Variant: "treat", Units: 1, Exposures: 2}},
			[]ms{{Variant: "treat", Metric: "purchase", Converted: 1, Count: 3, CountSquares: 9, Revenue: 16,
				RevenueSquares: 16 * 16, RevenueCount: 48, Cost: 2}})
		checkRollups(t, s)

		// Changing the attribution window re-attributes.
		e, err := s.GetExperiment(ctx(t), "exp2")
		must(t, err)
		e.AttributionWindow = 15 * time.Minute
		must(t, s.UpdateExperiment(ctx(t), e))
		wantStats(t, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp2"}), []vc{{Variant: "control", Units: 1, Exposures: 1}}, nil)
		checkRollups(t, s)
	})
	t.Run("FirstExposureAcrossBatches", func(t *testing.T) {
		// Batch by batch, the rollups must agree with a recomputation: the
		// first exposure is the least (ts, event_id), even when an
		// exposure at the same instant arrives later, and a second variant
		// makes the unit multiple whichever batch brings it.
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		h := time.Hour
		ingest(t, s, []experiments.Event{exposure("x2", "u1", "exp", "control", 0, nil, "web"),
			conversion("c1", "u1", "purchase", h, 7, nil)})
		ingest(t, s, []experiments.Event{exposure("x1", "u1", "exp", "control", 0, map[string]string{"k": "v"}, "push")})
		first := stats(t, s, experiments.StatsQuery{Experiment: "exp", Dimension: "channel"})
		wantStats(t, first, []vc{{Slice: "push", Variant: "control", Units: 1, Exposures: 2}},
			[]ms{{Slice: "push", Variant: "control", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1,
				Revenue: 7, RevenueSquares: 49, RevenueCount: 7}})
		checkRollups(t, s)
		ingest(t, s, []experiments.Event{exposure("x3", "u1", "exp", "treat", 2*h, nil, ""),
			conversion("c2", "u1", "purchase", 3*h, 5, nil)})
		wantStats(t, stats(t, s, experiments.StatsQuery{Experiment: "exp"}), []vc{{Variant: "control", MultipleExposed: 1}}, nil)
		wantStats(t, stats(t, s, experiments.StatsQuery{Experiment: "exp", MultipleExposure: experiments.MultipleFirst}),
			[]vc{{Variant: "control", Units: 1, Exposures: 3, MultipleExposed: 1}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
				Revenue: 12, RevenueSquares: 144, RevenueCount: 24}})
		checkRollups(t, s)
	})
	t.Run("FirstExposureOfStoredUnits", func(t *testing.T) { testFirstExposureOfStoredUnits(t, newStore) })
	t.Run("RepeatAndLateExposures", func(t *testing.T) {
		// A later exposure of an exposed unit leaves its attribution alone
		// while conversions of the same batch are added; a late exposure
		// earlier than the stored first one moves the window back and
		// attributes a conversion it now covers.
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		h := time.Hour
		ingest(t, s, []experiments.Event{exposure("x1", "u1", "exp", "treat", 0, nil, "web"),
			conversion("c1", "u1", "purchase", h, 10, nil), conversion("c0", "u1", "purchase", -h, 100, nil)})
		one := []vc{{Variant: "treat", Units: 1, Exposures: 1}}
		wantStats(t, stats(t, s, experiments.StatsQuery{Experiment: "exp"}), one,
			[]ms{{Variant: "treat", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1,
				Revenue: 10, RevenueSquares: 100, RevenueCount: 10}})
		ingest(t, s, []experiments.Event{exposure("x2", "u1", "exp", "treat", 2*h, nil, "push"),
			conversion("c2", "u1", "purchase", 3*h, 20, nil), conversion("c3", "u1", "purchase", 30*h, 40, nil)})
		wantStats(t, stats(t, s, experiments.StatsQuery{Experiment: "exp", Dimension: "channel"}),
			[]vc{{Slice: "web", Variant: "treat", Units: 1, Exposures: 2}},
			[]ms{{Slice: "web", Variant: "treat", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
				Revenue: 30, RevenueSquares: 900, RevenueCount: 60}})
		checkRollups(t, s)
		ingest(t, s, []experiments.Event{exposure("x0", "u1", "exp", "treat", -2*h, nil, "email")})
		wantStats(t, stats(t, s, experiments.StatsQuery{Experiment: "exp", Dimension: "channel"}),
			[]vc{{Slice: "email", Variant: "treat", Units: 1, Exposures: 3}},
			[]ms{{Slice: "email", Variant: "treat", Metric: "purchase", Converted: 1, Count: 3, CountSquares: 9,
				Revenue: 130, RevenueSquares: 16900, RevenueCount: 390}})
		checkRollups(t, s)
	})
	t.Run("RejectedByDB", func(t *testing.T) {
		s := newStore(t)
		_, err := s.IngestEvents(ctx(t), []experiments.Event{{ID: "z", Type: "click", UnitID: "u", Timestamp: t0}})
		wantKind(t, err, experiments.KindInvalid)
	})
	t.Run("RoundTripFields", func(t *testing.T) {
		// Events with every field set are accepted; a large revenue does
		// not overflow the squares.
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		big := experiments.MaxMoney
		ev := conversion("big", "u1", "purchase", time.Hour, big, &big)
		ev.Channel = "web"
		ev.Attributes = map[string]string{"device": "ios", "quote": `"'\`}
		ingest(t, s, []experiments.Event{
			exposure("e", "u1", "exp", "control", 0, map[string]string{"quote": `"'\`, "$a.b": "x"}, "web"), ev,
			conversion("big2", "u1", "purchase", 2*time.Hour, big, nil)})
		got := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"})
		b := float64(big)
		want := []ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4, Revenue: 2 * b,
			RevenueSquares: 4 * b * b, RevenueCount: 4 * b, Cost: b}}
		equalJSON(t, "metrics", got.Metrics, want)
		got = stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Dimension: "quote"})
		if len(got.Variants) != 1 || got.Variants[0].Slice != `"'\` {
			t.Fatalf("slice by an attribute with quotes: %+v", got.Variants)
		}
		got = stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp", Dimension: "$a.b"})
		if len(got.Variants) != 1 || got.Variants[0].Slice != "x" {
			t.Fatalf("slice by an attribute named like a JSON path: %+v", got.Variants)
		}
	})
	t.Run("ExposureOnlyBatches", func(t *testing.T) { testExposureOnlyBatches(t, newStore) })
	t.Run("Batch999", func(t *testing.T) {
		s := newStore(t)
		createExp(t, s, "exp", 24*time.Hour)
		var evs []experiments.Event
		for i := 0; i < 333; i++ {
			u := fmt.Sprint("u", i)
			v := []string{"control", "treat"}[i%2]
			evs = append(evs, exposure("x"+u, u, "exp", v, 0, nil, ""),
				conversion("p"+u, u, "purchase", time.Hour, int64(i), nil),
				conversion("q"+u, u, "purchase", 48*time.Hour, 1, nil))
		}
		if dup := ingest(t, s, evs); len(dup) != 999 || countNew(dup) != 999 {
			t.Fatalf("stored %d of %d", countNew(dup), len(dup))
		}
		got := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: "exp"})
		var units, count int64
		var rev float64
		for _, v := range got.Variants {
			units += v.Units
		}
		for _, m := range got.Metrics {
			count += int64(m.Count)
			rev += m.Revenue
		}
		if units != 333 || count != 333 || rev != 332*333/2 {
			t.Fatalf("units %d conversions %d revenue %g", units, count, rev)
		}
	})
	t.Run("ConcurrentIngest", func(t *testing.T) { testConcurrentIngest(t, newStore) })
	t.Run("CheckRollupsFindsDamage", func(t *testing.T) { testCheckRollupsFindsDamage(t, newStore) })
}

// testCheckRollupsFindsDamage: a damaged row of each rollup of
// conversions is reported by CheckRollups as missing and unexpected, and
// RecomputeRollups repairs it.
func testCheckRollupsFindsDamage(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	for _, table := range []string{"unit_metrics", "unit_metrics_daily", "unit_weeks"} {
		t.Run(table, func(t *testing.T) {
			s := newStore(t)
			rm, ok := s.(RollupMaintainer)
			db, raw := s.(rawDB)
			if !ok || !raw {
				t.Skip("the store keeps no rollups")
			}
			c := ctx(t)
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			e := &experiments.Experiment{Key: "exp", Variants: []experiments.Variant{{Key: "a", Weight: 1}, {Key: "b"}},
				CreatedAt: at, UpdatedAt: at}
			e.ApplyDefaults()
			e.Status = experiments.StatusRunning
			must(t, s.CreateExperiment(c, e))
			_, err := s.IngestEvents(c, []experiments.Event{
				{ID: "1", Type: experiments.EventExposure, UnitID: "u", Experiment: "exp", Variant: "a", Timestamp: at},
				{ID: "2", Type: experiments.EventConversion, UnitID: "u", Name: "purchase", Revenue: 5, Currency: "KRW", Timestamp: at},
			})
			must(t, err)
			_, err = db.DB().ExecContext(c, `UPDATE `+table+` SET revenue = revenue + 1`)
			must(t, err)
			diffs, err := rm.CheckRollups(c)
			must(t, err)
			if len(diffs) != 2 || !strings.HasPrefix(diffs[0], table+": ") || !strings.HasPrefix(diffs[1], table+": ") {
				t.Fatalf("CheckRollups = %q, want a missing and an unexpected %s row", diffs, table)
			}
			must(t, rm.RecomputeRollups(c))
			if diffs, err := rm.CheckRollups(c); err != nil || len(diffs) != 0 {
				t.Fatalf("after RecomputeRollups: %q, %v", diffs, err)
			}
		})
	}
}

// checkRollups verifies the rollups against a recomputation, recomputes
// them, and checks that the statistics did not change.
func checkRollups(t *testing.T, s experiments.Store) {
	t.Helper()
	rm, ok := s.(RollupMaintainer)
	if !ok {
		return
	}
	c := ctx(t)
	diffs, err := rm.CheckRollups(c)
	must(t, err)
	if len(diffs) > 0 {
		t.Fatalf("CheckRollups: %v", diffs)
	}
	var before []*experiments.SufficientStats
	xs, err := s.ListExperiments(c, experiments.ExperimentFilter{})
	must(t, err)
	for _, x := range xs {
		before = append(before, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: x.Key, MultipleExposure: experiments.MultipleFirst}))
	}
	must(t, rm.RecomputeRollups(c))
	for i, x := range xs {
		after := stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: x.Key, MultipleExposure: experiments.MultipleFirst})
		equalJSON(t, "stats after RecomputeRollups", after, before[i])
	}
	diffs, err = rm.CheckRollups(c)
	must(t, err)
	if len(diffs) > 0 {
		t.Fatalf("CheckRollups after RecomputeRollups: %v", diffs)
	}
}

// bigData returns 2,000 events of 250 units in experiments a and b.
func bigData() []experiments.Event {
	r := rand.New(rand.NewSource(7))
	var evs []experiments.Event
	for len(evs) < 2000 {
		i := len(evs)
		u := fmt.Sprint("u", r.Intn(250))
		at := time.Duration(r.Intn(72)) * time.Hour
		id := fmt.Sprint("ev", i)
		switch r.Intn(4) {
		case 0:
			evs = append(evs, exposure(id, u, []string{"a", "b"}[r.Intn(2)], []string{"control", "treat"}[r.Intn(2)], at,
				map[string]string{"country": []string{"KR", "JP", "US"}[r.Intn(3)]}, ""))
		default:
			evs = append(evs, conversion(id, u, []string{"purchase", "signup"}[r.Intn(2)], at, int64(r.Intn(10000)), ptr(int64(r.Intn(100)))))
		}
	}
	return evs
}

func testConcurrentIngest(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	evs := bigData()
	allStats := func(s experiments.Store) []*experiments.SufficientStats {
		var out []*experiments.SufficientStats
		for _, x := range []string{"a", "b"} {
			for _, m := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
				out = append(out, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: x, MultipleExposure: m}))
				out = append(out, stats(t, s, experiments.StatsQuery{PrePeriod: true, Experiment: x, MultipleExposure: m, Dimension: "country"}))
			}
		}
		return out
	}

	single := newStore(t)
	createExp(t, single, "a", 24*time.Hour)
	createExp(t, single, "b", 12*time.Hour)
	if n := countNew(ingest(t, single, evs)); n != 2000 {
		t.Fatalf("single writer stored %d", n)
	}
	want := allStats(single)

	s := newStore(t)
	createExp(t, s, "a", 24*time.Hour)
	createExp(t, s, "b", 12*time.Hour)
	const writers = 4
	var wg sync.WaitGroup
	news := make([]int, writers)
	errs := make([]error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each writer sends 3/4 of the events, starting at a different
			// quarter, shuffled, in batches of 100: every event is sent by
			// three writers.
			r := rand.New(rand.NewSource(int64(w)))
			mine := append([]experiments.Event(nil), evs[w*500:]...)
			mine = append(mine, evs[:w*500]...)
			mine = mine[:1500]
			r.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
			for len(mine) > 0 {
				n := min(100, len(mine))
				dup, err := s.IngestEvents(context.Background(), mine[:n])
				if err != nil {
					errs[w] = err
					return
				}
				news[w] += countNew(dup)
				mine = mine[n:]
			}
		}()
	}
	wg.Wait()
	total := 0
	for w := range news {
		must(t, errs[w])
		total += news[w]
	}
	if total != 2000 {
		t.Fatalf("concurrent writers stored %d events, want exactly 2000 (%v)", total, news)
	}
	if n := countNew(ingest(t, s, evs)); n != 0 {
		t.Fatalf("re-sending everything stored %d more", n)
	}
	got := allStats(s)
	for i := range want {
		equalJSON(t, fmt.Sprint("stats ", i), got[i], want[i])
	}
	checkRollups(t, s)
}

// testExposureOnlyBatches ingests batches that hold exposures only (what
// the group commit of assign and OFREP writes; a store may take a path of
// its own for them) between batches of conversions, and checks the
// statistics, the rollups against a recomputation and the customers'
// last exposure.
func testExposureOnlyBatches(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	h := time.Hour
	tests := []struct {
		name    string
		batches [][]experiments.Event
		dups    []int // duplicates per batch
		want    []ms
		units   []vc
	}{
		{name: "conversions that arrived before the exposure count from it",
			batches: [][]experiments.Event{
				{conversion("c1", "u", "purchase", h, 100, nil), conversion("c2", "u", "purchase", 30*h, 7, nil)},
				{exposure("x1", "u", "exp", "treat", 0, map[string]string{"tier": "gold"}, "web")},
			},
			dups:  []int{0, 0},
			units: []vc{{Variant: "treat", Units: 1, Exposures: 1}},
			want: []ms{{Variant: "treat", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1, Revenue: 100,
				RevenueSquares: 10000, RevenueCount: 100}}},
		{name: "an earlier exposure delivered late moves the attribution window",
			batches: [][]experiments.Event{
				{exposure("x1", "u", "exp", "control", 10*h, nil, "")},
				{conversion("c1", "u", "purchase", 5*h, 1, nil), conversion("c2", "u", "purchase", 20*h, 2, nil),
					conversion("c3", "u", "purchase", 40*h, 4, nil)},
				{exposure("x0", "u", "exp", "control", 2*h, nil, "app")},
			},
			dups:  []int{0, 0, 0},
			units: []vc{{Variant: "control", Units: 1, Exposures: 2}},
			want: []ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4, Revenue: 3,
				RevenueSquares: 9, RevenueCount: 6}}},
		{name: "repeats and a second variant in one batch and across batches",
			batches: [][]experiments.Event{
				{exposure("x1", "a", "exp", "control", h, nil, ""), conversion("c1", "a", "purchase", 2*h, 5, nil),
					exposure("y1", "b", "exp", "treat", h, nil, "")},
				{exposure("x1", "a", "exp", "control", h, nil, ""), exposure("x2", "a", "exp", "treat", 3*h, nil, ""),
					exposure("x2", "a", "exp", "treat", 3*h, nil, ""), exposure("y1", "b", "exp", "treat", h, nil, ""),
					exposure("y2", "b", "exp", "treat", 4*h, nil, "")},
			},
			dups:  []int{0, 3},
			units: []vc{{Variant: "control", MultipleExposed: 1}, {Variant: "treat", Units: 1, Exposures: 2}},
			want:  nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			createExp(t, s, "exp", 24*h)
			last := map[string]time.Time{}
			for i, b := range tc.batches {
				if dups := len(b) - countNew(ingest(t, s, b)); dups != tc.dups[i] {
					t.Errorf("batch %d: %d duplicates, want %d", i, dups, tc.dups[i])
				}
				for _, e := range b {
					if e.Type == experiments.EventExposure && e.Timestamp.After(last[e.UnitID]) {
						last[e.UnitID] = e.Timestamp
					}
				}
			}
			got := stats(t, s, experiments.StatsQuery{Experiment: "exp"})
			equalJSON(t, "units", got.Variants, tc.units)
			equalJSON(t, "metrics", got.Metrics, tc.want)
			checkRollups(t, s)
			cs, ok := s.(experiments.CustomerSegmentStore)
			if !ok {
				return
			}
			for u, at := range last {
				rows, err := cs.CustomerAggregates(ctx(t), u)
				must(t, err)
				agg, found := experiments.AggregateIn(rows, experiments.DefaultEnvironment)
				if !found || !agg.LastExposedAt.Equal(at) {
					t.Errorf("customer %s: last exposed at %v (found %v), want %v", u, agg.LastExposedAt, found, at)
				}
			}
		})
	}
}

// testFirstExposureOfStoredUnits checks the rollups of units a batch
// exposes for the first time, with and without conversions stored before
// the batch (a store may fold a unit without stored conversions from the
// batch alone, but must rebuild the others from the raw events).
func testFirstExposureOfStoredUnits(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	h := time.Hour
	tests := []struct {
		name    string
		batches [][]experiments.Event
		want    []ms
	}{
		{"only the batch's conversions", [][]experiments.Event{{
			exposure("x1", "u1", "exp", "control", 0, nil, ""),
			conversion("c1", "u1", "purchase", h, 10, nil), conversion("c2", "u1", "purchase", 2*h, 20, nil)}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
				Revenue: 30, RevenueSquares: 900, RevenueCount: 60}}},
		{"a conversion stored before", [][]experiments.Event{
			{conversion("c1", "u1", "purchase", h, 10, nil)},
			{exposure("x1", "u1", "exp", "control", 0, nil, ""), conversion("c2", "u1", "purchase", 2*h, 20, nil)}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
				Revenue: 30, RevenueSquares: 900, RevenueCount: 60}}},
		{"a conversion stored before, none in the batch", [][]experiments.Event{
			{conversion("c1", "u1", "purchase", h, 10, nil)},
			{exposure("x1", "u1", "exp", "control", 0, nil, "")}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1,
				Revenue: 10, RevenueSquares: 100, RevenueCount: 10}}},
		{"exposed in another experiment before", [][]experiments.Event{
			{exposure("x0", "u1", "other", "control", -h, nil, ""), conversion("c1", "u1", "purchase", h, 10, nil)},
			{exposure("x1", "u1", "exp", "control", 0, nil, ""), conversion("c2", "u1", "purchase", 2*h, 20, nil)}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
				Revenue: 30, RevenueSquares: 900, RevenueCount: 60}}},
		{"a conversion before the exposure in the batch", [][]experiments.Event{{
			conversion("c1", "u1", "purchase", -h, 10, nil), exposure("x1", "u1", "exp", "control", 0, nil, ""),
			conversion("c2", "u1", "purchase", h, 20, nil)}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 1, CountSquares: 1,
				Revenue: 20, RevenueSquares: 400, RevenueCount: 20}}},
		{"an order and its refund stored before", [][]experiments.Event{
			{conversion("c1", "u1", "purchase", h, 100, nil), refund("f1", "u1", "o-c1", 2*h, 30)},
			{exposure("x1", "u1", "exp", "control", 0, nil, ""), conversion("c2", "u1", "purchase", 3*h, 20, nil)}},
			[]ms{{Variant: "control", Metric: "purchase", Converted: 1, Count: 2, CountSquares: 4,
				Revenue: 90, RevenueSquares: 8100, RevenueCount: 180}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			createExp(t, s, "exp", 24*h)
			for _, b := range tt.batches {
				ingest(t, s, b)
			}
			got := stats(t, s, experiments.StatsQuery{Experiment: "exp"})
			// Only the purchases: a refund is a conversion of its own name.
			got.Metrics = slices.DeleteFunc(got.Metrics, func(m experiments.MetricSums) bool { return m.Metric != "purchase" })
			wantStats(t, got, []vc{{Variant: "control", Units: 1, Exposures: 1}}, tt.want)
			checkRollups(t, s)
		})
	}
}
