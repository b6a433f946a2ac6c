package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// This file holds the per-unit time-window queries of the report that the
// rollups cannot answer alone: repurchase cohorts and the CUPED pre-period.

// Intervals as SQL expressions in microseconds: a fixed 7×24 h week and the
// CUPED pre-period (never calendar days, which DST would stretch).
var (
	weekInterval      = fmt.Sprint((7 * 24 * time.Hour).Microseconds()) + ` * INTERVAL '1 microsecond'`
	prePeriodInterval = fmt.Sprint(experiments.PrePeriod.Microseconds()) + ` * INTERVAL '1 microsecond'`
)

// cohortUnits selects the units of one experiment (unit_id, first_variant,
// first_exposed_at, multiple, attributes, channel): from the rollup, or
// with until from the raw exposures before it. args are the query's
// arguments.
func cohortUnits(q experiments.StatsQuery) (string, []any) {
	if q.Until.IsZero() {
		return `SELECT unit_id, first_variant, first_exposed_at, multiple, attributes, channel
FROM exposures_rollup WHERE experiment = ?`, []any{q.Experiment}
	}
	return exposureSelect("", " AND e.experiment = ? AND e.ts < ?"), []any{q.Experiment, q.Until.UTC()}
}

// CohortStats implements experiments.CohortStore. For the analysed units
// of q.Experiment (q.MultipleExposure applies; q.Dimension is ignored) and
// each week k = 1..weeks after a unit's first exposure f, that is the
// interval [f + 7(k−1)·24 h, f + 7k·24 h):
//
//   - Units counts the units whose week k is over at the cut-off
//     (f + 7k·24 h ≤ q.Until, or now when q.Until is zero);
//   - Repurchasers counts those of them with at least one repurchase in
//     week k: a conversion named metric at or after f that is not the
//     unit's first such conversion since f (order: timestamp, event ID).
//
// Conversions are not limited to the attribution window. Rows come in
// (variant, week) order; weeks nobody has reached are absent. One query,
// over the experiment's units and their conversions of metric.
func (s *Store) CohortStats(ctx context.Context, q experiments.StatsQuery, metric string, weeks int) ([]experiments.CohortRow, error) {
	if weeks <= 0 {
		return nil, nil
	}
	cut := sqlstore.CohortCutoff(q).UTC()
	units, unitArgs := cohortUnits(q)
	analysed := `NOT multiple`
	if q.MultipleExposure == experiments.MultipleFirst {
		analysed = `TRUE`
	}
	query := `WITH RECURSIVE wk(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM wk WHERE k < CAST(? AS INTEGER)),
u AS (
	SELECT unit_id, first_variant AS variant, first_exposed_at AS f FROM (` + units + `) r
	WHERE ` + analysed + ` AND first_exposed_at < CAST(? AS TIMESTAMPTZ)
),
rep AS (
	SELECT DISTINCT unit_id, week FROM (
		SELECT u.unit_id,
			CAST(FLOOR(EXTRACT(EPOCH FROM c.ts - u.f) / ` + fmt.Sprint(7*24*3600) + `) AS INTEGER) + 1 AS week,
			ROW_NUMBER() OVER (PARTITION BY u.unit_id ORDER BY c.ts, c.event_id) AS rn
		FROM u JOIN events c ON c.type = 'conversion' AND c.unit_id = u.unit_id
			AND c.name = CAST(? AS TEXT) AND c.ts >= u.f AND c.ts < CAST(? AS TIMESTAMPTZ)
	) x WHERE rn >= 2
)
SELECT u.variant, wk.k AS week, COUNT(*) AS units, COUNT(rep.unit_id) AS repurchasers
FROM u JOIN wk ON u.f + wk.k * ` + weekInterval + ` <= CAST(? AS TIMESTAMPTZ)
LEFT JOIN rep ON rep.unit_id = u.unit_id AND rep.week = wk.k
GROUP BY u.variant, wk.k
ORDER BY u.variant, wk.k`
	args := append(append([]any{weeks}, unitArgs...), cut, metric, cut, cut)
	var rows []sqlstore.CohortRow
	if err := s.w.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, wrap("cohort stats", err)
	}
	return sqlstore.Cohorts(rows), nil
}

// addPrePeriod fills PreSum, PreSumSquares and PreCrossSum of ms (the
// answer of SufficientStats for q, whose slice expression, its arguments
// and analysed-unit condition are given). The covariate x_u of a unit and
// conversion name is its revenue of that name in [f − PrePeriod, f), f its
// first exposure; y_u is its attributed revenue (before q.Until). Units
// without pre-period revenue add nothing to the sums, so the query visits
// only the experiment's units and their conversions before exposure. Sums
// of a metric without an entry in ms (no attributed conversion at all) are
// dropped.
func addPrePeriod(ctx context.Context, tx *rtx, q experiments.StatsQuery, sl sqlstore.StatsSlice, ms []experiments.MetricSums) error {
	slice, sliceArgs, analysed := sl.Expr, sl.Args, sl.Analysed
	units, unitArgs := cohortUnits(q)
	y := `COALESCE((SELECT m.revenue FROM unit_metrics m
		WHERE m.experiment = CAST(? AS TEXT) AND m.unit_id = p.unit_id AND m.metric = p.metric), 0)`
	yArgs := []any{q.Experiment}
	if !q.Until.IsZero() {
		y = `COALESCE((SELECT SUM(a.revenue) FROM events a WHERE a.type = 'conversion' AND a.unit_id = p.unit_id
		AND a.name = p.metric AND a.ts >= p.first_exposed_at AND a.ts < CAST(? AS TIMESTAMPTZ)
		AND a.ts <= p.first_exposed_at + COALESCE((SELECT attribution_window_us FROM experiments WHERE key = CAST(? AS TEXT)), ` +
			fmt.Sprint(defaultWindowUS) + `) * INTERVAL '1 microsecond'), 0)`
		yArgs = []any{q.Until.UTC(), q.Experiment}
	}
	query := `SELECT ` + slice + ` AS slice, variant, metric,
	SUM(CAST(x AS DOUBLE PRECISION)) AS pre_sum,
	SUM(CAST(x AS DOUBLE PRECISION) * x) AS pre_sum_squares,
	SUM(CAST(x AS DOUBLE PRECISION) * y) AS pre_cross_sum
FROM (
	SELECT p.variant, p.attributes, p.channel, p.first_exposed_at, p.metric, p.x, ` + y + ` AS y
	FROM (
		SELECT r.unit_id, r.first_variant AS variant, r.first_exposed_at, r.attributes, r.channel,
			c.name AS metric, SUM(c.revenue) AS x
		FROM (` + units + `) r
		JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
			AND c.ts >= r.first_exposed_at - ` + prePeriodInterval + ` AND c.ts < r.first_exposed_at
		WHERE ` + analysed + `
		GROUP BY r.unit_id, r.first_variant, r.first_exposed_at, r.attributes, r.channel, c.name
		HAVING SUM(c.revenue) <> 0
	) p
) m
GROUP BY 1, 2, 3`
	args := append(append(append([]any{}, sliceArgs...), yArgs...), unitArgs...)
	var rows []sqlstore.PreRow
	if err := tx.SelectContext(ctx, &rows, query, args...); err != nil {
		return err
	}
	sqlstore.MergePrePeriod(ms, rows)
	return nil
}

var _ experiments.CohortStore = (*Store)(nil)
