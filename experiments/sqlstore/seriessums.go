package sqlstore

import (
	"context"
	"fmt"
)

// The per-day sums of the daily series (migration 0029), so that the
// series reads O(variants × metrics × days) rows instead of a window over
// every unit's days.
//
// Each unit_metrics_daily row carries prev_conversions and prev_revenue,
// pc and pr: the unit's running count and revenue of conversions of that
// name at the end of its previous day (the sum of its rows before day).
// With n, r the row's own changes, the row then brings to the series' sums
// of that day, on its own, without reading the unit's other rows:
//
//	converted      1 when pc = 0 (the unit's first day with conversions)
//	count          n
//	count_squares  (pc+n)² − pc²  = n·(2pc + n)
//	revenue        r
//	revenue_sq.    (pr+r)² − pr²  = r·(2pr + r)
//	revenue_count  (pr+r)·(pc+n) − pr·pc
//	cost           the row's cost
//
// Adding these up over the unit's days to a cut-off gives the unit's
// running totals and their squares at that cut-off (the sum telescopes).
// series_metrics holds, per (experiment, variant, metric, day), the sum
// of these over the rows of units that are not multiple-exposed, and
// series_units per (experiment, variant, day) the units first exposed
// that day (exposures_rollup by first_variant and the day of
// first_exposed_at). Both are kept by triggers on unit_metrics_daily and
// exposures_rollup, which add a row's contribution when it is written
// and take it back when it is changed or deleted: every path that
// writes these rollups (ingest, the group commit of exposures, erasure,
// RecomputeRollups) keeps them in the same transaction. A late conversion
// on day t of a unit changes pc and pr of the unit's later rows (the
// ingest fixes them, FixPrevSQL), and so their contributions.
//
// Sums may be split over several rows of one key (shard: PostgreSQL's
// triggers write the shard of their backend, so that concurrent ingest
// transactions do not wait on each other's rows); readers add the shards
// up. The squares are summed exactly (Exact: NUMERIC in PostgreSQL) and
// turned to floating point when read, so the series adds the same
// integers as a recomputation.

// dailyPrevWindow computes a unit_metrics_daily row's prev_conversions
// (pc) and prev_revenue (pr) from the rows of its (experiment, unit,
// metric) in the same relation; use it with WINDOW k.
const dailyPrevWindow = `SUM(conversions) OVER k - conversions AS pc, SUM(revenue) OVER k - revenue AS pr`

// dailyPrevKey is the window of dailyPrevWindow.
const dailyPrevKey = ` WINDOW k AS (PARTITION BY experiment, unit_id, metric ORDER BY day)`

// FixPrevSQL sets prev_conversions and prev_revenue of the
// unit_metrics_daily rows of the (experiment, unit_id) pairs pairs
// selects (static SQL) where they differ from the running sums of the
// unit's earlier rows: after conversions were added to some of a unit's
// days, its later days. Rows already right are not written.
func FixPrevSQL(pairs string) string {
	return `UPDATE unit_metrics_daily SET prev_conversions = w.pc, prev_revenue = w.pr FROM (
	SELECT experiment, unit_id, metric, day, ` + dailyPrevWindow + `
	FROM unit_metrics_daily WHERE (experiment, unit_id) IN (` + pairs + `)` + dailyPrevKey + `
) w
WHERE unit_metrics_daily.experiment = w.experiment AND unit_metrics_daily.unit_id = w.unit_id
	AND unit_metrics_daily.metric = w.metric AND unit_metrics_daily.day = w.day
	AND (unit_metrics_daily.prev_conversions <> w.pc OR unit_metrics_daily.prev_revenue <> w.pr)`
}

// StoredPrev is the SELECT list of DailyColumns over x, a relation of
// DailySelect rows (prev within x), with the running sums of the stored
// rows before each day added: for a batch of new changes to be upserted
// into unit_metrics_daily.
func StoredPrev(x string) string {
	before := func(col string) string {
		return `COALESCE((SELECT SUM(s.` + col + `) FROM unit_metrics_daily s WHERE s.experiment = ` + x + `.experiment
		AND s.unit_id = ` + x + `.unit_id AND s.metric = ` + x + `.metric AND s.day < ` + x + `.day), 0)`
	}
	return x + `.experiment, ` + x + `.unit_id, ` + x + `.metric, ` + x + `.day, ` + x + `.variant, ` + x + `.multiple, ` +
		x + `.conversions, ` + x + `.revenue, ` + x + `.cost, ` + x + `.prev_conversions + ` + before("conversions") + `, ` +
		x + `.prev_revenue + ` + before("revenue")
}

// seriesMetricSums are the sums of series_metrics, in order.
const seriesMetricSums = `converted, conversions, count_squares, revenue, revenue_squares, revenue_count, cost`

// seriesExpected selects the series_metrics and series_units sums from
// the stored rollups (see above), per key.
func (d CohortDialect) seriesExpected() (metrics, units string) {
	x := d.Exact
	metrics = `SELECT experiment, variant, metric, day,
	SUM(CASE WHEN prev_conversions = 0 THEN 1 ELSE 0 END) AS converted,
	SUM(conversions) AS conversions,
	SUM(conversions * (2 * prev_conversions + conversions)) AS count_squares,
	SUM(revenue) AS revenue,
	SUM(CAST(revenue AS ` + x + `) * (2 * prev_revenue + revenue)) AS revenue_squares,
	SUM(CAST(prev_revenue + revenue AS ` + x + `) * (prev_conversions + conversions) - CAST(prev_revenue AS ` + x + `) * prev_conversions) AS revenue_count,
	SUM(cost) AS cost
FROM unit_metrics_daily WHERE NOT multiple GROUP BY experiment, variant, metric, day`
	units = `SELECT experiment, first_variant AS variant, ` + d.Day("first_exposed_at") + ` AS day, COUNT(*) AS units
FROM exposures_rollup GROUP BY experiment, first_variant, ` + d.Day("first_exposed_at")
	return metrics, units
}

// seriesStored selects the sums of series_metrics and series_units per
// key, the shards added up, leaving out keys whose sums are all zero.
const (
	seriesMetricsStored = `SELECT experiment, variant, metric, day, SUM(converted) AS converted, SUM(conversions) AS conversions,
	SUM(count_squares) AS count_squares, SUM(revenue) AS revenue, SUM(revenue_squares) AS revenue_squares,
	SUM(revenue_count) AS revenue_count, SUM(cost) AS cost
FROM series_metrics GROUP BY experiment, variant, metric, day`
	seriesNonZero = ` WHERE converted <> 0 OR conversions <> 0 OR count_squares <> 0 OR revenue <> 0
	OR revenue_squares <> 0 OR revenue_count <> 0 OR cost <> 0`
	seriesUnitsStored = `SELECT experiment, variant, day, SUM(units) AS units FROM series_units GROUP BY experiment, variant, day`
)

// CheckSeries compares series_metrics and series_units with their sums
// recomputed from unit_metrics_daily and exposures_rollup (which
// CheckRollups compares with the raw events) and describes each differing
// key, at most MaxRollupDiffs per table and direction.
func (d CohortDialect) CheckSeries(ctx context.Context, q RowsQueryer) ([]string, error) {
	metrics, units := d.seriesExpected()
	nz := func(s string) string { return `SELECT * FROM (` + s + `) z` + seriesNonZero }
	key := `variant || '/' || metric || '/' || CAST(day AS TEXT)`
	ukey := `variant || '/' || CAST(day AS TEXT)`
	checks := []struct{ label, q string }{
		{"series_metrics: missing or wrong", `SELECT experiment, ` + key + ` FROM (` + nz(metrics) + ` EXCEPT ` + nz(seriesMetricsStored) + `) d`},
		{"series_metrics: unexpected or wrong", `SELECT experiment, ` + key + ` FROM (` + nz(seriesMetricsStored) + ` EXCEPT ` + nz(metrics) + `) d`},
		{"series_units: missing or wrong", `SELECT experiment, ` + ukey + ` FROM (` + units + ` EXCEPT SELECT * FROM (` +
			seriesUnitsStored + `) z WHERE units <> 0) d`},
		{"series_units: unexpected or wrong", `SELECT experiment, ` + ukey + ` FROM (SELECT * FROM (` + seriesUnitsStored +
			`) z WHERE units <> 0 EXCEPT ` + units + `) d`},
	}
	var diffs []string
	for _, c := range checks {
		found, err := listPairs(ctx, q, c.q+` ORDER BY 1, 2 LIMIT `+fmt.Sprint(MaxRollupDiffs))
		if err != nil {
			return nil, err
		}
		for _, p := range found {
			diffs = append(diffs, fmt.Sprintf("%s: experiment %q key %q", c.label, p[0], p[1]))
		}
	}
	return diffs, nil
}

// RebuildSeries recomputes series_metrics and series_units in tx from
// the stored rollups (after RecomputeRollups rebuilt those).
func (d CohortDialect) RebuildSeries(ctx context.Context, tx Queryer) error {
	metrics, units := d.seriesExpected()
	for _, q := range []string{
		`DELETE FROM series_metrics`,
		`INSERT INTO series_metrics (experiment, variant, metric, day, shard, ` + seriesMetricSums + `)
SELECT experiment, variant, metric, day, 0, ` + seriesMetricSums + ` FROM (` + metrics + `) x`,
		`DELETE FROM series_units`,
		`INSERT INTO series_units (experiment, variant, day, shard, units) SELECT experiment, variant, day, 0, units FROM (` + units + `) x`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild series sums: %w", err)
		}
	}
	return nil
}
