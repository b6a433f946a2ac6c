package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sort"

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
const WeekColumns = `experiment, unit_id, metric, week, conversions, revenue`

// AddWeeks is the SET clause of an upsert into unit_weeks that adds the
// counts of excluded (spelled as the database wants it) to the stored row.
func AddWeeks(excluded string) string {
	return `conversions = m.conversions + ` + excluded + `.conversions, revenue = m.revenue + ` + excluded + `.revenue`
}

// WeeksSelect selects unit_weeks rows. pairs is a FROM fragment binding r
// (the exposures_rollup columns), xw (LEFT JOIN experiments) and c,
// conversions of r.unit_id; where is an extra condition on them (static
// SQL).
func (d CohortDialect) WeeksSelect(pairs, where string) string {
	return `SELECT r.experiment, r.unit_id, c.name AS metric,
	CASE WHEN c.ts < r.first_exposed_at THEN 0 ELSE ` + d.WeeksSince("c.ts", "r.first_exposed_at") + ` + 1 END AS week,
	COUNT(*) AS conversions, SUM(c.revenue) AS revenue
FROM ` + pairs + `
WHERE c.type = 'conversion' AND c.ts >= r.first_exposed_at - ` + fmt.Sprint(experiments.PrePeriod.Microseconds()) + d.Micros + `
	AND ` + CountsIn("c", "xw.environment") + where + `
GROUP BY 1, 2, 3, 4`
}

// cohortsFromWeeks is the query of CohortStats over the rollups (without
// Until), in one statement (one snapshot). It returns two kinds of rows:
// kind 'u', the analysed units of each variant by the number of weeks the
// cut-off has completed since their first exposure (done: f + done·7·24 h
// ≤ cut-off < f + (done+1)·7·24 h); and kind 'r', per variant and week k
// the analysed units that repurchased in week k, among those whose week k
// is complete. A unit repurchased in week k when its unit_weeks row of
// week k counts two conversions, or one that is not its first since f (it
// has a row of an earlier week ≥ 1). Every conversion of a complete week,
// and the unit's first since f when it lies in one, is before the cut-off,
// as in the raw query. Rows of weeks that not even the earliest exposed
// unit has completed are not read. cohortsFromRows adds the units up.
// The repurchase rows reach exposures_rollup from the window subquery by
// the rollup's key (d.JoinEvents: SQLite's CROSS JOIN keeps that order;
// left to itself SQLite scanned the materialized subquery once per unit,
// 10-45 s instead of about 1 s for a report of 10,000 units).
func (d CohortDialect) cohortsFromWeeks(analysed string) string {
	return `SELECT 'u' AS kind, first_variant AS variant, ` + d.WeeksSince(d.TimeParam, "first_exposed_at") + ` AS week, COUNT(*) AS n
FROM exposures_rollup WHERE experiment = ` + d.TextParam + ` AND ` + analysed + ` AND first_exposed_at < ` + d.TimeParam + `
GROUP BY 1, 2, 3
UNION ALL
SELECT 'r', r.first_variant, w.week, COUNT(*)
FROM (
	SELECT unit_id, week, conversions, MIN(week) OVER (PARTITION BY unit_id) AS first
	FROM unit_weeks WHERE experiment = ` + d.TextParam + ` AND metric = ` + d.TextParam + `
		AND week >= 1 AND week <= ` + d.IntParam + `
		AND week <= ` + d.WeeksSince(d.TimeParam, d.firstExposure("MIN")) + `
) w
` + d.JoinEvents + ` exposures_rollup r ON r.experiment = ` + d.TextParam + ` AND r.unit_id = w.unit_id
WHERE (w.conversions >= 2 OR w.week > w.first) AND ` + analysed + ` AND r.first_exposed_at < ` + d.TimeParam + `
	AND w.week <= ` + d.WeeksSince(d.TimeParam, "r.first_exposed_at") + `
GROUP BY 1, 2, 3`
}

// cohortStatsFromWeeks runs cohortsFromWeeks for sq (whose Until is zero)
// and adds the units up: week k counts the units with at least k weeks
// done.
func (d CohortDialect) cohortStatsFromWeeks(ctx context.Context, q Queryer, sq experiments.StatsQuery, metric string,
	weeks int, analysed string) ([]experiments.CohortRow, error) {
	cut := d.TimeArg(CohortCutoff(sq))
	var rows []struct {
		Kind    string `db:"kind"`
		Variant string `db:"variant"`
		Week    int    `db:"week"`
		N       int64  `db:"n"`
	}
	if err := q.SelectContext(ctx, &rows, d.cohortsFromWeeks(analysed),
		cut, sq.Experiment, cut, sq.Experiment, metric, weeks, cut, sq.Experiment, sq.Experiment, cut, cut); err != nil {
		return nil, err
	}
	done := map[string][]int64{} // units by variant and week, before the sums
	reps := map[string]int64{}
	for _, r := range rows {
		if done[r.Variant] == nil {
			done[r.Variant] = make([]int64, weeks+1)
		}
		switch {
		case r.Kind == "r":
			reps[fmt.Sprint(r.Variant, "/", r.Week)] = r.N
		case r.Week >= 1:
			done[r.Variant][min(r.Week, weeks)] += r.N
		}
	}
	variants := make([]string, 0, len(done))
	for v := range done {
		variants = append(variants, v)
	}
	sort.Strings(variants)
	var out []experiments.CohortRow
	for _, v := range variants {
		var units int64
		var vs []experiments.CohortRow
		for k := weeks; k >= 1; k-- {
			if units += done[v][k]; units > 0 {
				vs = append(vs, experiments.CohortRow{Variant: v, Week: k, Units: units, Repurchasers: reps[fmt.Sprint(v, "/", k)]})
			}
		}
		slices.Reverse(vs)
		out = append(out, vs...)
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
