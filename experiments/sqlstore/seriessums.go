package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// dailyPrevKey is the window over which a unit_metrics_daily row's
// prev_conversions and prev_revenue are the running sums of the rows of
// its (experiment, unit, metric) before its day.
const dailyPrevKey = ` WINDOW k AS (PARTITION BY experiment, unit_id, metric ORDER BY day)`

// FixPrevSQL sets prev_conversions and prev_revenue of the
// unit_metrics_daily rows of some units where they differ from the running
// sums of the unit's earlier rows: after conversions were added to some of
// a unit's days, its later days. rows is a FROM fragment (static SQL) that
// binds s to all the unit_metrics_daily rows of those units, and nothing
// else; it should read them by the key's (experiment, unit_id) prefix.
// With rowID (SQLite) s also has the rows' rowid as rid (see fixSQL).
func FixPrevSQL(rows string, rowID bool) string {
	return fixSQL("unit_metrics_daily", "day", []string{"prev_conversions", "prev_revenue"},
		[]string{`SUM(conversions) OVER k - conversions`, `SUM(revenue) OVER k - revenue`}, rows+dailyPrevKey, rowID)
}

// fixSQL sets the columns cols of some units' rows of table (keyed by
// experiment, unit_id, metric and last) to the values exprs compute over
// all of those units' rows, where they differ: the columns a row carries
// from the unit's other rows (a running sum, a flag), after rows were
// added. rows is a FROM fragment (static SQL) binding s to all the rows
// of those units (and a WINDOW clause exprs use, if any). The rows already
// right are left out before the update looks up its rows, so that a batch
// that changes no such column (new units) updates nothing. With rowID
// (SQLite) s also has the rows' rowid as rid, and the update finds its
// rows by it: SQLite runs an UPDATE … FROM as a scan of the whole table
// that probes the changed rows, whatever the join. Each changed row then
// reads the changed rows once (a scan of w): cheap while few of a batch's
// rows change, as after most batches.
func fixSQL(table, last string, cols, exprs []string, rows string, rowID bool) string {
	id := ""
	if rowID {
		id = "rid, "
	}
	var computed, differ, news, sets []string
	for i, c := range cols {
		computed = append(computed, exprs[i]+` AS new_`+c)
		differ = append(differ, `v.`+c+` <> v.new_`+c)
		news = append(news, `new_`+c)
		sets = append(sets, c+` = w.new_`+c)
	}
	changed := `SELECT * FROM (
		SELECT ` + id + `experiment, unit_id, metric, ` + last + `, ` + strings.Join(cols, ", ") + `, ` + strings.Join(computed, ", ") + `
		FROM ` + rows + `
	) v WHERE ` + strings.Join(differ, " OR ")
	if rowID {
		return `WITH w AS MATERIALIZED (` + changed + `)
UPDATE ` + table + ` SET (` + strings.Join(cols, ", ") + `) = (SELECT ` + strings.Join(news, ", ") + ` FROM w WHERE w.rid = ` + table + `.rowid)
WHERE rowid IN (SELECT rid FROM w)`
	}
	return `UPDATE ` + table + ` SET ` + strings.Join(sets, ", ") + ` FROM (
	` + changed + `
) w
WHERE ` + table + `.experiment = w.experiment AND ` + table + `.unit_id = w.unit_id
	AND ` + table + `.metric = w.metric AND ` + table + `.` + last + ` = w.` + last
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

// seriesSums are the tables of the series sums, with the SELECTs of
// their sums from the stored rollups (see above), per key.
func (d CohortDialect) seriesSums() []sumsTable {
	x := d.Exact
	return []sumsTable{
		{name: "series_metrics", keys: "experiment, variant, metric, day",
			sums:  metricSums,
			label: `variant || '/' || metric || '/' || CAST(day AS TEXT)`,
			expected: `SELECT experiment, variant, metric, day,
	SUM(CASE WHEN prev_conversions = 0 THEN 1 ELSE 0 END) AS converted,
	SUM(conversions) AS conversions,
	SUM(conversions * (2 * prev_conversions + conversions)) AS count_squares,
	SUM(revenue) AS revenue,
	SUM(CAST(revenue AS ` + x + `) * (2 * prev_revenue + revenue)) AS revenue_squares,
	SUM(CAST(prev_revenue + revenue AS ` + x + `) * (prev_conversions + conversions) - CAST(prev_revenue AS ` + x + `) * prev_conversions) AS revenue_count,
	SUM(cost) AS cost
FROM unit_metrics_daily WHERE NOT multiple GROUP BY experiment, variant, metric, day`},
		{name: "series_units", keys: "experiment, variant, day", sums: "units",
			label: `variant || '/' || CAST(day AS TEXT)`,
			expected: `SELECT experiment, first_variant AS variant, ` + d.Day("first_exposed_at") + ` AS day, COUNT(*) AS units
FROM exposures_rollup GROUP BY experiment, first_variant, ` + d.Day("first_exposed_at")},
	}
}

// sumsTable is a table of sums that triggers keep from a per-unit rollup
// (series_metrics, slice_metrics, ...), split over shards: how CheckSums
// compares it with the rollup and RebuildSums rebuilds it.
type sumsTable struct {
	name     string // the table
	keys     string // its key columns but shard, comma-separated
	sums     string // its sum columns, comma-separated
	label    string // a key in a diff (the key columns but experiment, as text)
	expected string // SELECT keys, sums from the rollup, one row per key
}

// nonZero selects the rows of rel (keys, sums) whose sums are not all zero.
func (t sumsTable) nonZero(rel string) string {
	return `SELECT * FROM (` + rel + `) z WHERE ` + strings.Join(strings.Split(t.sums, ","), ` <> 0 OR `) + ` <> 0`
}

// stored selects the sums of t per key, the shards added up.
func (t sumsTable) stored() string {
	cols := strings.Split(t.sums, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = `SUM(` + c + `) AS ` + c
	}
	return `SELECT ` + t.keys + `, ` + strings.Join(cols, ", ") + ` FROM ` + t.name + ` GROUP BY ` + t.keys
}

// CheckSums compares the tables of sums that triggers keep (the series
// sums here, the slice sums of slicesums.go) with their sums recomputed
// from the rollups they add up (which CheckRollups compares with the raw
// events) and describes each differing key, at most MaxRollupDiffs per
// table and direction.
func (d CohortDialect) CheckSums(ctx context.Context, q RowsQueryer) ([]string, error) {
	return checkSums(ctx, q, d.sumsTables())
}

// sumsTables are the tables of sums that triggers keep: the series sums,
// the slice sums (slicesums.go), the attribute sums (attrsums.go) and the
// repurchase counts (repurchasers.go).
func (d CohortDialect) sumsTables() []sumsTable {
	return slices.Concat(d.seriesSums(), d.sliceSums(), d.attrSums(), d.repurchaseSums())
}

// checkSums compares each table of tables, its keys whose sums are not all
// zero, with its expected sums, and describes each differing key, at most
// MaxRollupDiffs per table and direction.
func checkSums(ctx context.Context, q RowsQueryer, tables []sumsTable) ([]string, error) {
	var diffs []string
	for _, t := range tables {
		expected, stored := t.nonZero(t.expected), t.nonZero(t.stored())
		for _, c := range []struct{ label, q string }{
			{t.name + ": missing or wrong", `SELECT experiment, ` + t.label + ` FROM (` + expected + ` EXCEPT ` + stored + `) d`},
			{t.name + ": unexpected or wrong", `SELECT experiment, ` + t.label + ` FROM (` + stored + ` EXCEPT ` + expected + `) d`},
		} {
			found, err := listPairs(ctx, q, c.q+` ORDER BY 1, 2 LIMIT `+fmt.Sprint(MaxRollupDiffs))
			if err != nil {
				return nil, err
			}
			for _, p := range found {
				diffs = append(diffs, fmt.Sprintf("%s: experiment %q key %q", c.label, p[0], p[1]))
			}
		}
	}
	return diffs, nil
}

// RebuildSums recomputes the tables of CheckSums in tx from the stored
// rollups (after RecomputeRollups rebuilt those).
func (d CohortDialect) RebuildSums(ctx context.Context, tx Queryer) error {
	return rebuildSums(ctx, tx, d.sumsTables())
}

// rebuildSums recomputes each table of tables in tx from its rollup, into
// shard 0.
func rebuildSums(ctx context.Context, tx Queryer, tables []sumsTable) error {
	for _, t := range tables {
		for _, q := range []string{
			`DELETE FROM ` + t.name,
			`INSERT INTO ` + t.name + ` (` + t.keys + `, shard, ` + t.sums + `) SELECT ` + t.keys + `, 0, ` + t.sums +
				` FROM (` + t.expected + `) x`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("rebuild %s: %w", t.name, err)
			}
		}
	}
	return nil
}
