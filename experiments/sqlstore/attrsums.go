package sqlstore

import (
	"context"

	"github.com/promolift/promolift/experiments"
)

// The per-attribute sums of the breakdowns by a kept attribute (migration
// 0033), so that a breakdown by a segment or by the RFM segment reads
// O(variants × values × metrics) rows instead of joining every unit's
// exposures_rollup row to its unit_metrics rows.
//
// A unit's stored attributes (exposures_rollup.attributes) are the
// experiment's segments and the segment attributes rfm_segment and
// aipl_stage. attr_units holds, per (experiment, attribute, value,
// variant, multiple), the units with that value and the sum of their
// exposures; attr_metrics, per metric too, the sums of slice_metrics
// (slicesums.go) over those units' unit_metrics rows with conversions.
// Only the text values but '' have rows: the slice of a unit without a
// value (StatsDialect.SliceOf's "(none)") is the slice sums less the
// attribute's rows, in exact integers.
//
// Like the slice sums, both are kept by triggers on exposures_rollup and
// unit_metrics in every transaction that writes the rollups, and are
// compared and rebuilt by CheckSums and RebuildSums. A unit_metrics row
// counts under the variant, multiple flag and attributes of its unit's
// exposures_rollup row (equal to its own variant and flag once the
// statement writing them is done); when a unit's key changes, its
// unit_metrics sums move with it, and when the unit goes, they go. The
// values are customer data: the triggers delete a key whose sums fall to
// zero, so that an erasure leaves no value of the erased customer behind.

// attrSums are the tables of the attribute sums, with the SELECTs of their
// sums from the stored rollups, per key.
func (d CohortDialect) attrSums() []sumsTable {
	x := d.Exact
	pairs := `CROSS JOIN ` + d.AttributePairs + ` p`
	where := ` WHERE ` + d.PairValue + ` <> ''`
	return []sumsTable{
		{name: "attr_units", keys: "experiment, attribute, value, variant, multiple", sums: "units, exposures",
			label: `attribute || '/' || value || '/' || variant || '/' || CAST(multiple AS TEXT)`,
			expected: `SELECT r.experiment, p.key AS attribute, ` + d.PairValue + ` AS value, r.first_variant AS variant, r.multiple,
	COUNT(*) AS units, SUM(r.exposures) AS exposures
FROM exposures_rollup r ` + pairs + where + `
GROUP BY r.experiment, p.key, ` + d.PairValue + `, r.first_variant, r.multiple`},
		{name: "attr_metrics", keys: "experiment, attribute, value, variant, multiple, metric", sums: metricSums,
			label: `attribute || '/' || value || '/' || variant || '/' || CAST(multiple AS TEXT) || '/' || metric`,
			expected: `SELECT m.experiment, p.key AS attribute, ` + d.PairValue + ` AS value, r.first_variant AS variant, r.multiple,
	m.metric,
	COUNT(*) AS converted, SUM(m.conversions) AS conversions, SUM(CAST(m.conversions AS ` + x + `) * m.conversions) AS count_squares,
	SUM(m.revenue) AS revenue, SUM(CAST(m.revenue AS ` + x + `) * m.revenue) AS revenue_squares,
	SUM(CAST(m.revenue AS ` + x + `) * m.conversions) AS revenue_count, SUM(m.cost) AS cost
FROM unit_metrics m JOIN exposures_rollup r ON r.experiment = m.experiment AND r.unit_id = m.unit_id ` + pairs + where + `
	AND m.conversions > 0
GROUP BY m.experiment, p.key, ` + d.PairValue + `, r.first_variant, r.multiple, m.metric`},
	}
}

// readAttribute runs the two aggregates of SufficientStats for q over the
// attribute sums (q.Dimension an attribute, no q.Until), in tx: the same
// rows as ReadStats over the rollups. The slice of a value is its rows;
// "(none)" is the experiment's slice sums less all the attribute's rows.
func (d CohortDialect) readAttribute(ctx context.Context, tx Queryer, q experiments.StatsQuery) (*experiments.SufficientStats, error) {
	// Parameters: the experiment, the attribute and the "(none)" slice.
	e, a, none := d.TextParam, d.TextParam, d.TextParam
	args := []any{q.Experiment, q.Dimension, experiments.NoSlice, q.Experiment, experiments.NoSlice, q.Experiment, q.Dimension}
	neg := `-converted, -conversions, -count_squares, -revenue, -revenue_squares, -revenue_count, -cost`
	return d.readSums(ctx, tx, d.SliceOf(q).Analysed,
		`SELECT value AS slice, variant, multiple, units, exposures FROM attr_units WHERE experiment = `+e+` AND attribute = `+a+`
	UNION ALL SELECT `+none+`, variant, multiple, units, exposures FROM slice_units WHERE experiment = `+e+`
	UNION ALL SELECT `+none+`, variant, multiple, -units, -exposures FROM attr_units WHERE experiment = `+e+` AND attribute = `+a,
		args,
		`SELECT value AS slice, variant, multiple, metric, `+metricSums+` FROM attr_metrics WHERE experiment = `+e+` AND attribute = `+a+`
	UNION ALL SELECT `+none+`, variant, multiple, metric, `+metricSums+` FROM slice_metrics WHERE experiment = `+e+`
	UNION ALL SELECT `+none+`, variant, multiple, metric, `+neg+` FROM attr_metrics WHERE experiment = `+e+` AND attribute = `+a,
		args)
}
