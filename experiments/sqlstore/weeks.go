package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The per-unit, per-week rollup unit_weeks (migration 0027): the report's
// repurchase cohorts and CUPED pre-period sums read it instead of every
// raw conversion of the experiment's units.
//
// A row (experiment, unit_id, metric, week) counts the unit's conversions
// of that name (CountsIn applies; every conversion, not only attributed
// ones, refunds included under their own name 'refund') and sums their
// revenue, by week since the unit's first exposure f:
//
//   - week 0 is the pre-period [f − experiments.PrePeriod, f);
//   - week k ≥ 1 is [f + 7(k−1)·24 h, f + 7k·24 h) (a fixed 7×24 h week,
//     as the cohorts count it).
//
// Conversions before f − PrePeriod have no row. A unit's rows depend only
// on f and its conversions: a fresh conversion adds to its week's row, and
// a unit whose first exposure moved (or that the batch exposed first) is
// rebuilt from the raw events, in the same ingest transaction as the other
// rollups.

// WeekColumns are the columns of unit_weeks, in the order of WeeksSelect.
// repeated (migration 0038, repurchasers.go) is true on a row of week
// k ≥ 1 when the unit has a row of an earlier week in [1, k).
const WeekColumns = `experiment, unit_id, metric, week, conversions, revenue, repeated`

// AddWeeks is the SET clause of an upsert into unit_weeks that adds the
// counts of excluded (spelled as the database wants it) to the stored row.
func AddWeeks(excluded string) string {
	return `conversions = m.conversions + ` + excluded + `.conversions, revenue = m.revenue + ` + excluded + `.revenue`
}

// WeeksSelect selects unit_weeks rows. pairs is a FROM fragment binding r
// (the exposures_rollup columns), xw (LEFT JOIN experiments) and c,
// conversions of r.unit_id; where is an extra condition on them (static
// SQL). repeated is computed among the rows selected: right when they are
// all of their units' rows (a rebuild), to be fixed by FixRepeatedSQL
// when they are added to stored ones.
func (d CohortDialect) WeeksSelect(pairs, where string) string {
	return `SELECT experiment, unit_id, metric, week, conversions, revenue, ` + repeatedWindow + ` FROM (
SELECT r.experiment, r.unit_id, c.name AS metric,
	CASE WHEN c.ts < r.first_exposed_at THEN 0 ELSE ` + d.WeeksSince("c.ts", "r.first_exposed_at") + ` + 1 END AS week,
	COUNT(*) AS conversions, SUM(c.revenue) AS revenue
FROM ` + pairs + `
WHERE c.type = 'conversion' AND c.ts >= r.first_exposed_at - ` + fmt.Sprint(experiments.PrePeriod.Microseconds()) + d.Micros + `
	AND ` + CountsIn("c", "xw.environment") + where + `
GROUP BY 1, 2, 3, 4
) g WHERE TRUE`
}

// cohortsFromWeeks is the query of CohortStats over the rollups (without
// Until) for cut-off cut, in one statement (one snapshot), with its
// arguments. It returns two kinds of rows: kind 'u', per variant and week
// k = 1..weeks the analysed units whose week k is complete at the cut-off
// (f + k·7·24 h ≤ cut, f the first exposure, that is f ≤ t =
// cut − k·7·24 h); and kind 'r', per variant and week k the analysed
// units that repurchased in week k, among those whose week k is complete.
// A unit repurchased in week k when its unit_weeks row of week k counts
// two conversions, or one that is not its first since f (it has a row of
// an earlier week ≥ 1). Every conversion of a complete week, and the
// unit's first since f when it lies in one, is before the cut-off, as in
// the raw query.
//
// Neither kind is read unit by unit: for kind 'u' the units first exposed
// on a UTC day before the day of t come from the per-day counts of
// series_units (seriessums.go, less the few multiple-exposed ones when
// they are not analysed), and those of t's day up to t from the index
// exposures_rollup_first; for kind 'r' likewise from the per-hour counts
// of cohort_repurchasers and t's hour (repurchasers.go). A report reads at
// most a day of units per week instead of all of them.
func (d CohortDialect) cohortsFromWeeks(experiment, metric string, weeks int, analysed string, cut time.Time) (string, []any) {
	var units, reps []string
	var args, repArgs []any
	for k := 1; k <= weeks; k++ {
		t := cut.Add(-time.Duration(k) * 7 * 24 * time.Hour)
		day := floorDiv(t.Unix(), 86400) // as the stores' days are
		week := fmt.Sprint(k)
		units = append(units, `SELECT variant, `+week+` AS week, units AS n FROM series_units
	WHERE experiment = `+d.TextParam+` AND day < `+d.IntParam+`
UNION ALL
SELECT first_variant, `+week+`, -1 FROM exposures_rollup
	WHERE experiment = `+d.TextParam+` AND multiple AND NOT (`+analysed+`) AND first_exposed_at < `+d.TimeParam+`
UNION ALL
SELECT first_variant, `+week+`, 1 FROM exposures_rollup
	WHERE experiment = `+d.TextParam+` AND `+analysed+` AND first_exposed_at >= `+d.TimeParam+` AND first_exposed_at <= `+d.TimeParam)
		dayStart := d.TimeArg(time.Unix(day*86400, 0))
		args = append(args, experiment, day, experiment, dayStart, experiment, dayStart, d.TimeArg(t))
		q, a := d.repurchasersOfWeek(experiment, metric, k, analysed, t)
		reps = append(reps, q)
		repArgs = append(repArgs, a...)
	}
	return `SELECT 'u' AS kind, variant, week, SUM(n) AS n FROM (
` + strings.Join(units, "\nUNION ALL\n") + `
) u GROUP BY variant, week
UNION ALL
SELECT 'r', variant, week, SUM(n) FROM (
` + strings.Join(reps, "\nUNION ALL\n") + `
) r GROUP BY variant, week`, append(args, repArgs...)
}

// cohortStatsFromWeeks runs cohortsFromWeeks for sq (whose Until is zero)
// and makes the rows of its answer.
func (d CohortDialect) cohortStatsFromWeeks(ctx context.Context, q Queryer, sq experiments.StatsQuery, metric string,
	weeks int, analysed string) ([]experiments.CohortRow, error) {
	var rows []struct {
		Kind    string `db:"kind"`
		Variant string `db:"variant"`
		Week    int    `db:"week"`
		N       int64  `db:"n"`
	}
	query, args := d.cohortsFromWeeks(sq.Experiment, metric, weeks, analysed, CohortCutoff(sq))
	if err := q.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, err
	}
	type key struct {
		variant string
		week    int
	}
	units, reps := map[key]int64{}, map[key]int64{}
	var variants []string
	for _, r := range rows {
		switch {
		case r.Kind == "r":
			reps[key{r.Variant, r.Week}] = r.N
		case r.N > 0:
			units[key{r.Variant, r.Week}] = r.N
			if !slices.Contains(variants, r.Variant) {
				variants = append(variants, r.Variant)
			}
		}
	}
	sort.Strings(variants)
	var out []experiments.CohortRow
	for _, v := range variants {
		for k := 1; k <= weeks; k++ {
			if n := units[key{v, k}]; n > 0 {
				out = append(out, experiments.CohortRow{Variant: v, Week: k, Units: n, Repurchasers: reps[key{v, k}]})
			}
		}
	}
	return out, nil
}

// prePeriodFromWeeks is the relation of AddPrePeriod over unit_weeks
// (without Until): per analysable unit and conversion name with pre-period
// revenue x (week 0), its attributed revenue y from unit_metrics, with the
// unit's variant, multiple flag, attributes, channel and first exposure
// for the slice (parameter: the experiment key, once).
const prePeriodFromWeeks = `SELECT r.first_variant AS variant, r.multiple, r.attributes, r.channel, r.first_exposed_at,
		p.metric, p.revenue AS x, COALESCE(m.revenue, 0) AS y
	FROM unit_weeks p
	JOIN exposures_rollup r ON r.experiment = p.experiment AND r.unit_id = p.unit_id
	LEFT JOIN unit_metrics m ON m.experiment = p.experiment AND m.unit_id = p.unit_id AND m.metric = p.metric
	WHERE p.experiment = ? AND p.week = 0 AND p.revenue <> 0`
