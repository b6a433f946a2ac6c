package sqlstore

import (
	"fmt"
	"time"
)

// The per-hour counts of the repurchase cohorts (migration 0038), so that
// the report counts a week's repurchasers from O(variants × hours) rows
// instead of one unit_weeks row per repurchasing unit.
//
// A unit repurchased in week k ≥ 1 when its unit_weeks row of week k
// counts two conversions or more, or counts one and the unit has a row of
// an earlier week j in [1, k) (its first conversion since its first
// exposure f lies in week j, so this one is not its first). The second
// part is kept on the row itself, unit_weeks.repeated, so that whether a
// row counts (it repurchases: week ≥ 1 and conversions ≥ 2 or repeated)
// depends on the row alone: the ingest computes it among the rows it
// writes (WeeksSelect) and fixes it on the units it added rows to
// (FixRepeatedSQL), as the running sums of unit_metrics_daily.
//
// cohort_repurchasers counts the rows that repurchase per (experiment,
// metric, week, hour, variant, multiple), hour the hour of the unit's
// first exposure (whole hours since 1970) and variant and multiple its
// first variant and multiple flag in exposures_rollup. Like the attribute
// sums (attrsums.go), it is kept by triggers on unit_weeks (a row under
// its unit's current key) and on exposures_rollup (a unit's rows when it
// goes or its key moves) in every transaction that writes the rollups
// (ingest, the group commit of exposures, erasure, RecomputeRollups),
// split over shards that readers add up, and compared and rebuilt by
// CheckSums and RebuildSums. A key whose count falls to zero is deleted.
//
// For a cut-off cut, the units whose week k is complete are those first
// exposed at or before t = cut − k·7·24 h: the repurchasers of week k are
// then the counts of week k over the hours before t's hour, and the rows
// of week k of the units first exposed in [start of t's hour, t], read
// unit by unit (repurchasersOfWeek). An hour rather than a day: at
// 1,000,000 units first exposed over ten weeks a day holds 14,000 units
// to probe per week, an hour 600, for 24 times the (few) counts.

// repeatedWindow computes unit_weeks.repeated of a row among the rows of
// its (experiment, unit, metric) in the same relation: its week is after
// the earliest week ≥ 1 of them.
const repeatedWindow = `COALESCE(week > MIN(CASE WHEN week >= 1 THEN week END) OVER (PARTITION BY experiment, unit_id, metric), FALSE)`

// FixRepeatedSQL sets repeated of the unit_weeks rows of some units where
// it differs from what their rows say: after rows were added to some of
// a unit's weeks, its later weeks. rows is a FROM fragment (static SQL)
// binding s to all the unit_weeks rows of those units (with their rowid
// as rid when rowID, SQLite); see fixSQL.
func FixRepeatedSQL(rows string, rowID bool) string {
	return fixSQL("unit_weeks", "week", []string{"repeated"}, []string{repeatedWindow}, rows, rowID)
}

// repurchasing is the condition on a unit_weeks row w that it counts as
// its unit's repurchase in its week.
const repurchasing = `w.week >= 1 AND (w.conversions >= 2 OR w.repeated)`

// repurchaseSums are the tables of the repurchase counts, with the SELECT
// of their counts from the stored rollups, per key.
func (d CohortDialect) repurchaseSums() []sumsTable {
	hour := d.Hours("r.first_exposed_at")
	return []sumsTable{{name: "cohort_repurchasers", keys: "experiment, metric, week, hour, variant, multiple", sums: "units",
		label: `metric || '/' || CAST(week AS TEXT) || '/' || CAST(hour AS TEXT) || '/' || variant || '/' || CAST(multiple AS TEXT)`,
		expected: `SELECT w.experiment, w.metric, w.week, ` + hour + ` AS hour, r.first_variant AS variant, r.multiple, COUNT(*) AS units
FROM unit_weeks w JOIN exposures_rollup r ON r.experiment = w.experiment AND r.unit_id = w.unit_id
WHERE ` + repurchasing + `
GROUP BY w.experiment, w.metric, w.week, ` + hour + `, r.first_variant, r.multiple`}}
}

// repurchasersOfWeek selects (variant, week, n) rows whose n add up, per
// variant, to the analysed units (analysed, over multiple) first exposed at
// or before t that repurchased metric in week k, with its arguments: the
// counts of cohort_repurchasers of the hours before t's hour, and for each
// unit first exposed in [start of t's hour, t] (index
// exposures_rollup_first) whether its unit_weeks row of week k counts, a
// probe of the row's key (a scalar subquery: as a join, PostgreSQL read
// every unit's row of week k through unit_weeks_week and hashed them).
func (d CohortDialect) repurchasersOfWeek(experiment, metric string, k int, analysed string, t time.Time) (string, []any) {
	hour := floorDiv(t.Unix(), 3600)
	week := fmt.Sprint(k)
	q := `SELECT variant, ` + week + ` AS week, units AS n FROM cohort_repurchasers
	WHERE experiment = ` + d.TextParam + ` AND metric = ` + d.TextParam + ` AND week = ` + week + ` AND hour < ` + d.IntParam +
		` AND ` + analysed + `
UNION ALL
SELECT r.first_variant, ` + week + `, (SELECT COUNT(*) FROM unit_weeks w
		WHERE w.experiment = r.experiment AND w.unit_id = r.unit_id AND w.metric = ` + d.TextParam + ` AND w.week = ` + week + `
			AND ` + repurchasing + `)
	FROM exposures_rollup r
	WHERE r.experiment = ` + d.TextParam + ` AND ` + analysed + `
		AND r.first_exposed_at >= ` + d.TimeParam + ` AND r.first_exposed_at <= ` + d.TimeParam
	return q, []any{experiment, metric, hour, metric, experiment, d.TimeArg(time.Unix(hour*3600, 0)), d.TimeArg(t)}
}
