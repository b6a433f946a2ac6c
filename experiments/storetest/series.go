package storetest

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// testSeries checks SeriesStats (the daily series in one pass) against
// SufficientStats with Until, the recomputation from the raw events, at
// every midnight around two data sets and at a last cut-off inside a day,
// in both multiple-exposure modes.
func testSeries(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	d := 24 * time.Hour
	for _, tc := range []struct {
		name, exp string
		window    time.Duration
		events    []experiments.Event
		from, to  time.Duration // the midnights from t0+from to t0+to
		last      time.Duration
	}{
		{"fixture", "exp", 24 * time.Hour, fixture(), -2 * d, 3 * d, 3*d + 90*time.Minute},
		{"fixture-mid-day", "exp", 24 * time.Hour, fixture(), -2 * d, 0, 3*time.Hour + 30*time.Minute},
		// A unit that converts, becomes multiple-exposed two days later and
		// converts again: it counts until then, and not from that day on.
		{"late-multiple", "exp", 7 * d, append(fixture(),
			exposure("lm-e1", "lm", "exp", "treat", 0, nil, ""),
			conversion("lm-c1", "lm", "purchase", 2*time.Hour, 300, nil),
			conversion("lm-c2", "lm", "purchase", 26*time.Hour, 200, nil),
			exposure("lm-e2", "lm", "exp", "control", 2*d+time.Hour, nil, ""),
			conversion("lm-c3", "lm", "purchase", 3*d, 100, nil)), -1 * d, 4 * d, 4*d + time.Hour},
		// The last cut-off inside a day, after its conversions and refunds
		// but before exposures: a unit first exposed after it, and a
		// converted unit exposed to another variant after it (multiple
		// only then), besides one multiple before it. The last day's
		// conversions then come from the per-day sums (series.go).
		{"last-day-from-sums", "exp", 7 * d, []experiments.Event{
			exposure("s1-e1", "s1", "exp", "treat", time.Hour, nil, ""),
			conversion("s1-c1", "s1", "purchase", 2*time.Hour, 300, nil),
			conversion("s1-c2", "s1", "purchase", d+time.Hour, 200, nil),
			exposure("s2-e1", "s2", "exp", "control", 3*time.Hour, nil, ""),
			conversion("s2-c1", "s2", "purchase", d+2*time.Hour, 150, nil),
			refund("s2-f1", "s2", "o-s2-c1", d+150*time.Minute, 50),
			exposure("s3-e1", "s3", "exp", "treat", d+30*time.Minute, nil, ""),
			conversion("s3-c1", "s3", "purchase", d+3*time.Hour, 80, nil),
			exposure("s5-e1", "s5", "exp", "control", 2*time.Hour, nil, ""),
			conversion("s5-c1", "s5", "purchase", d+time.Hour, 60, nil),
			exposure("s5-e2", "s5", "exp", "treat", d+2*time.Hour, nil, ""),
			conversion("s5-c2", "s5", "purchase", d+3*time.Hour, 40, nil),
			exposure("s4-e1", "s4", "exp", "control", d+5*time.Hour, nil, ""),
			exposure("s1-e2", "s1", "exp", "control", d+6*time.Hour, nil, "")}, -1 * d, d, d + 4*time.Hour},
		{"cohorts", "coh", 24 * time.Hour, cohortFixture(), -42 * d, 16 * d, 16*d + 5*time.Hour},
		// Every conversion counts (a long window), the last cut-off before
		// some of them.
		{"cohorts-long-window", "coh", 60 * d, cohortFixture(), -42 * d, 14 * d, 14*d + time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ss, ok := s.(experiments.SeriesStore)
			if !ok {
				t.Fatalf("%T has no SeriesStats", s)
			}
			createExp(t, s, tc.exp, tc.window)
			ingest(t, s, tc.events)
			var cuts []time.Time
			for at := tc.from; at <= tc.to; at += d {
				cuts = append(cuts, t0.Add(at))
			}
			cuts = append(cuts, t0.Add(tc.last))
			compareSeries(t, s, ss, tc.exp, cuts)
		})
	}
	t.Run("BadCuts", func(t *testing.T) {
		ss := newStore(t).(experiments.SeriesStore)
		q := experiments.StatsQuery{Experiment: "exp", MultipleExposure: experiments.MultipleExclude}
		for _, cuts := range [][]time.Time{{t0.Add(time.Hour), t0.Add(48 * time.Hour)}, {t0.Add(24 * time.Hour), t0}} {
			_, err := ss.SeriesStats(ctx(t), q, cuts)
			wantKind(t, err, experiments.KindInvalid)
		}
	})
}

// compareSeries compares SeriesStats of experiment at cuts with
// SufficientStats as of each cut-off, in both multiple-exposure modes.
func compareSeries(t *testing.T, s experiments.Store, ss experiments.SeriesStore, experiment string, cuts []time.Time) {
	t.Helper()
	for _, mode := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
		q := experiments.StatsQuery{Experiment: experiment, MultipleExposure: mode}
		got, err := ss.SeriesStats(ctx(t), q, cuts)
		must(t, err)
		if len(got) != len(cuts) {
			t.Fatalf("%s: %d results for %d cut-offs", mode, len(got), len(cuts))
		}
		for i, cut := range cuts {
			uq := q
			uq.Until = cut
			want := stats(t, s, uq)
			for j := range want.Variants {
				want.Variants[j].Exposures = 0
			}
			equalJSON(t, string(mode)+" at "+cut.Format(time.RFC3339), got[i], want)
		}
	}
}
