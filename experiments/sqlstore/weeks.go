package sqlstore

import (
	"context"
	"fmt"
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

// cohortsFromWeeks is the query of CohortStats over unit_weeks (without
// Until): a unit repurchased in week k when its week-k row counts two
// conversions, or one that is not its first since f (an earlier week ≥ 1
// has a row). Only weeks the cut-off has completed count, so every
// conversion of such a week, and the unit's first since f when it lies in
// one of them, is before the cut-off, as in the raw query; the rows of
// weeks that not even the earliest exposed unit has completed are not
// read.
func (d CohortDialect) cohortsFromWeeks(analysed string) string {
	week := fmt.Sprint((7 * 24 * time.Hour).Microseconds()) + d.Micros
	return `WITH RECURSIVE wk(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM wk WHERE k < ` + d.IntParam + `),
u AS (
	SELECT unit_id, first_variant AS variant, first_exposed_at AS f FROM exposures_rollup
	WHERE experiment = ` + d.TextParam + ` AND ` + analysed + ` AND first_exposed_at < ` + d.TimeParam + `
),
rep AS (
	SELECT unit_id, week FROM (
		SELECT unit_id, week, conversions, MIN(week) OVER (PARTITION BY unit_id) AS first
		FROM unit_weeks WHERE experiment = ` + d.TextParam + ` AND metric = ` + d.TextParam + `
			AND week >= 1 AND week <= ` + d.IntParam + `
			AND week <= ` + d.WeeksSince(d.TimeParam, d.firstExposure("MIN")) + `
	) w WHERE conversions >= 2 OR week > first
)
SELECT u.variant, wk.k AS week, COUNT(*) AS units, COUNT(rep.unit_id) AS repurchasers
FROM u JOIN wk ON u.f + wk.k * ` + week + ` <= ` + d.TimeParam + `
LEFT JOIN rep ON rep.unit_id = u.unit_id AND rep.week = wk.k
GROUP BY u.variant, wk.k
ORDER BY u.variant, wk.k`
}

// cohortStatsFromWeeks runs cohortsFromWeeks for sq (whose Until is zero).
func (d CohortDialect) cohortStatsFromWeeks(ctx context.Context, q Queryer, sq experiments.StatsQuery, metric string,
	weeks int, analysed string) ([]experiments.CohortRow, error) {
	cut := d.TimeArg(CohortCutoff(sq))
	var rows []CohortRow
	if err := q.SelectContext(ctx, &rows, d.cohortsFromWeeks(analysed),
		weeks, sq.Experiment, cut, sq.Experiment, metric, weeks, cut, sq.Experiment, cut); err != nil {
		return nil, err
	}
	return Cohorts(rows), nil
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
