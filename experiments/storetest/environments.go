package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// envFixture is the data set of testEnvironments, in three batches (the
// exposures, then the conversions, which the stores add to the rollups
// incrementally, then the refunds, which make them rebuild units). The
// events carry the environment the Service gives them: an exposure its
// experiment's, a conversion its sending key's ("" for an unbound key).
//
// Experiment "envx" (production, window 24h): a1 control (KR, push), a2
// treat (JP), a3 treat then control (multiple exposure). Experiment "stgx"
// (staging): a1. Conversions of production and of unbound keys count in
// envx; those of staging keys (the id "same" is sent by both, staging
// first) count only in stgx: a staging refund does not reverse a
// production order, a staging purchase before the exposure is no CUPED
// covariate, a staging repurchase makes no cohort.
func envFixture() [][]experiments.Event {
	h, d := time.Hour, 24*time.Hour
	in := func(env string, e experiments.Event) experiments.Event {
		e.Environment = env
		return e
	}
	prod := func(e experiments.Event) experiments.Event { return in("production", e) }
	stg := func(e experiments.Event) experiments.Event { return in("staging", e) }
	withChannel := func(e experiments.Event, ch string) experiments.Event {
		e.Channel = ch
		return e
	}
	return [][]experiments.Event{{
		prod(exposure("en-a1", "a1", "envx", "control", 1*h, map[string]string{"country": "KR"}, "push")),
		prod(exposure("en-a2", "a2", "envx", "treat", 1*h, map[string]string{"country": "JP"}, "")),
		prod(exposure("en-a3", "a3", "envx", "treat", 2*h, nil, "")),
		prod(exposure("en-a3b", "a3", "envx", "control", 5*h, nil, "")),
		stg(exposure("en-s1", "a1", "stgx", "treat", 1*h, nil, "")),
	}, {
		prod(conversion("pa1", "a1", "purchase", 2*h, 1000, nil)),
		stg(conversion("sa1", "a1", "purchase", 3*h, 5000, nil)),
		stg(conversion("same", "a1", "purchase", 4*h, 70000, nil)),
		prod(conversion("same", "a1", "purchase", 4*h, 200, nil)),
		in("", conversion("na2", "a2", "purchase", 2*h, 300, nil)),
		stg(conversion("sa2", "a2", "purchase", 3*h, 7000, nil)),
		stg(withChannel(conversion("sa2c", "a2", "signup", 150*time.Minute, 0, nil), "email")),
		prod(withChannel(conversion("pa2c", "a2", "signup", 160*time.Minute, 0, nil), "web")),
		prod(conversion("pre1", "a1", "purchase", -3*h, 50, nil)),
		stg(conversion("pre2", "a1", "purchase", -2*h, 9999, nil)),
		in("", conversion("pre3", "a2", "purchase", -1*h, 40, nil)),
		stg(conversion("sa3", "a3", "purchase", 3*h, 600, nil)),
		prod(conversion("pa3", "a3", "purchase", 210*time.Minute, 80, nil)),
		prod(conversion("rep1", "a1", "purchase", 8*d, 10, nil)),
		stg(conversion("rep2", "a1", "purchase", 8*d+h, 20, nil)),
		stg(conversion("rep3", "a2", "purchase", 8*d, 30, nil)),
		stg(conversion("rep4", "a2", "purchase", 9*d, 40, nil)),
	}, {
		stg(refund("rf1", "a1", "o-pa1", 5*h, 0)),
		prod(refund("rf2", "a2", "o-na2", 6*h, 100)),
	}}
}

// withoutStaging is the fixture without the events of environment staging:
// what envx must read.
func withoutStaging(batches [][]experiments.Event) [][]experiments.Event {
	out := make([][]experiments.Event, len(batches))
	for i, b := range batches {
		for _, e := range b {
			if e.Environment != "staging" {
				out[i] = append(out[i], e)
			}
		}
	}
	return out
}

// testEnvironments checks the attribution of conversions within an
// environment (docs/report.md, "Which conversions count"): every read of
// the production experiment envx on the full fixture equals the same read
// on the fixture without the staging events (the sums, with and without a
// dimension, as of a time, with the CUPED pre-period, the daily series, the
// cohorts, the channels, the order values and the policy cells), the
// figures of the scenario by hand, event ids unique per
// environment, a change of an experiment's environment, and the rollup
// check.
func testEnvironments(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	load := func(t *testing.T, batches [][]experiments.Event) experiments.Store {
		t.Helper()
		s := newStore(t)
		createExp(t, s, "envx", 24*time.Hour)
		stgx := createExp(t, s, "stgx", 24*time.Hour)
		stgx.Environment = "staging"
		must(t, s.UpdateExperiment(ctx(t), stgx))
		for _, b := range batches {
			ingest(t, s, b)
		}
		return s
	}
	mixed, clean := load(t, envFixture()), load(t, withoutStaging(envFixture()))

	t.Run("Scenario", func(t *testing.T) {
		// The production report of envx: a1's production purchases (1000
		// and the production copy of "same", 200), a2's unbound one (300,
		// 100 of it refunded by production); the staging ones are left out.
		equalJSON(t, "envx purchases (count, revenue)", purchases(t, mixed, "envx"),
			map[string][2]float64{"control": {2, 1200}, "treat": {1, 200}})
		// The staging report of stgx: a1's staging purchases (5000 and the
		// staging copy of "same", 70000) and none of production.
		equalJSON(t, "stgx purchases (count, revenue)", purchases(t, mixed, "stgx"), map[string][2]float64{"treat": {2, 75000}})
	})

	t.Run("SameReads", func(t *testing.T) {
		compareEnvReads(t, mixed, clean, "envx")
	})

	t.Run("IDsPerEnvironment", func(t *testing.T) {
		s := load(t, nil)
		h := time.Hour
		e := func(env string, revenue int64) experiments.Event {
			c := conversion("dup", "a1", "purchase", 2*h, revenue, nil)
			c.Environment = env
			return c
		}
		// The same id from staging, production and an unbound key: three
		// events; sent again from each: duplicates.
		if got := ingest(t, s, []experiments.Event{e("staging", 1), e("production", 2), e("", 3), e("production", 4)}); !slices.Equal(got, []bool{false, false, false, true}) {
			t.Fatalf("first batch: duplicates %v, want [false false false true]", got)
		}
		if got := ingest(t, s, []experiments.Event{e("", 5), e("staging", 6), e("production", 7)}); !slices.Equal(got, []bool{true, true, true}) {
			t.Fatalf("second batch: duplicates %v, want all", got)
		}
		if cs, ok := s.(experiments.CustomerStore); ok {
			has, err := cs.HasEvent(ctx(t), "dup")
			must(t, err)
			if !has {
				t.Fatal("HasEvent(dup) = false")
			}
		}
	})

	t.Run("EnvironmentChange", func(t *testing.T) {
		// Moving envx to staging makes its staging conversions count and
		// its production ones not, at once (the rollups are rebuilt).
		s := load(t, envFixture())
		x, err := s.GetExperiment(ctx(t), "envx")
		must(t, err)
		x.Environment = "staging"
		must(t, s.UpdateExperiment(ctx(t), x))
		// control a1: 5000, 70000 and the staging refund reverses nothing
		// of them (it refunds the production order o-pa1); treat a2: 7000
		// and the unbound 300, whose production refund no longer counts.
		equalJSON(t, "envx in staging: purchases (count, revenue)", purchases(t, s, "envx"),
			map[string][2]float64{"control": {2, 75000}, "treat": {2, 7300}})
		checkRollups(t, s)
	})

	t.Run("CheckRollups", func(t *testing.T) { checkRollups(t, mixed) })
}

// purchases are the count and revenue of the attributed purchases of
// experiment exp's variants.
func purchases(t *testing.T, s experiments.Store, exp string) map[string][2]float64 {
	t.Helper()
	got := map[string][2]float64{}
	for _, m := range stats(t, s, experiments.StatsQuery{Experiment: exp}).Metrics {
		if m.Metric == "purchase" {
			got[m.Variant] = [2]float64{m.Count, m.Revenue}
		}
	}
	return got
}

// compareEnvReads compares every read of experiment exp that attributes
// conversions on stores a and b.
func compareEnvReads(t *testing.T, a, b experiments.Store, exp string) {
	t.Helper()
	d := 24 * time.Hour
	for _, mode := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
		for _, q := range []experiments.StatsQuery{
			{PrePeriod: true},
			{Dimension: "country", PrePeriod: true},
			{Dimension: experiments.DimensionChannel},
			{Until: t0.Add(210 * time.Minute), PrePeriod: true},
			{Until: t0.Add(10 * d)},
		} {
			q.Experiment, q.MultipleExposure = exp, mode
			equalJSON(t, "stats "+string(mode)+" "+q.Dimension+" until "+q.Until.String(), stats(t, a, q), stats(t, b, q))
		}
		q := experiments.StatsQuery{Experiment: exp, MultipleExposure: mode, AsOf: t0.Add(30 * d)}
		cuts := []time.Time{t0, t0.Add(d), t0.Add(8 * d), t0.Add(9 * d), t0.Add(10 * d)}
		sa, err := a.(experiments.SeriesStore).SeriesStats(ctx(t), q, cuts)
		must(t, err)
		sb, err := b.(experiments.SeriesStore).SeriesStats(ctx(t), q, cuts)
		must(t, err)
		equalJSON(t, "series "+string(mode), sa, sb)
		ca, err := a.(experiments.CohortStore).CohortStats(ctx(t), q, "purchase", 3)
		must(t, err)
		cb, err := b.(experiments.CohortStore).CohortStats(ctx(t), q, "purchase", 3)
		must(t, err)
		equalJSON(t, "cohorts "+string(mode), ca, cb)
		cha, err := a.(experiments.ChannelStore).ChannelCredit(ctx(t), q)
		must(t, err)
		chb, err := b.(experiments.ChannelStore).ChannelCredit(ctx(t), q)
		must(t, err)
		equalJSON(t, "channels "+string(mode), cha, chb)
		all := func(n int64) []int64 {
			r := make([]int64, n)
			for i := range r {
				r[i] = int64(i) + 1
			}
			return r
		}
		oa, err := a.(experiments.OrderValueStore).OrderValues(ctx(t), q, "purchase", all)
		must(t, err)
		ob, err := b.(experiments.OrderValueStore).OrderValues(ctx(t), q, "purchase", all)
		must(t, err)
		equalJSON(t, "order values "+string(mode), oa, ob)
		for _, horizon := range []time.Duration{0, 30 * d} {
			pq := experiments.PolicyQuery{Experiment: exp, Metric: "purchase", Features: []string{"country"}, Folds: 2,
				Horizon: horizon, MultipleExposure: mode}
			pa, err := a.(experiments.PolicyStore).PolicyStats(ctx(t), pq)
			must(t, err)
			pb, err := b.(experiments.PolicyStore).PolicyStats(ctx(t), pq)
			must(t, err)
			equalJSON(t, "policy "+string(mode)+" horizon "+horizon.String(), pa, pb)
		}
	}
}
