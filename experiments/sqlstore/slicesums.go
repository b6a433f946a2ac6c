package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/promolift/promolift/experiments"
)

// The per-slice sums of the report's statistics (migration 0030), so that
// the overall statistics and the breakdowns by channel, hour and hour ×
// channel read O(variants × hours × channels × metrics) rows instead of
// every unit's rollup rows.
//
// slice_units holds, per (experiment, variant, multiple, hour, channel),
// the number of exposures_rollup units and the sum of their exposures;
// slice_metrics, per (experiment, variant, multiple, hour, channel, metric,
// currency), over the unit_metrics rows with conversions n > 0 (revenue r,
// cost c):
//
//	converted      the number of rows
//	conversions    Σ n
//	count_squares  Σ n²
//	revenue        Σ r
//	revenue_sq.    Σ r²
//	revenue_count  Σ r·n
//	cost           Σ c
//
// hour is the UTC hour of the unit's first exposure as the report's hour
// slice writes it (StatsDialect.HourSlice), channel the unit's channel as
// stored. A statistics query groups these rows by its slice (Σ over the
// hours for the channel breakdown, over everything for the overall
// statistics) with exact integer sums, turned to floating point when read:
// the same numbers as adding up the units' rows whenever those sums are
// exact in float64 (every partial sum below 2⁵³), closer otherwise.
//
// Like the series sums (seriessums.go), both are kept by triggers on
// exposures_rollup and unit_metrics that add a row when it is written and
// take it back when it is changed or deleted, in every transaction that
// writes the rollups (ingest, the group commit of exposures, erasure,
// RecomputeRollups), split over shards that readers add up; CheckSums and
// RebuildSums (seriessums.go) compare and rebuild them.

// sliceSums are the tables of the slice sums, with the SELECTs of their
// sums from the stored rollups, per key.
func (d CohortDialect) sliceSums() []sumsTable {
	x := d.Exact
	hour := `COALESCE(` + d.HourSlice + `, '')`
	return []sumsTable{
		{name: "slice_units", keys: "experiment, variant, multiple, hour, channel", sums: "units, exposures",
			label: `variant || '/' || CAST(multiple AS TEXT) || '/' || hour || '/' || channel`,
			expected: `SELECT experiment, first_variant AS variant, multiple, ` + hour + ` AS hour, channel,
	COUNT(*) AS units, SUM(exposures) AS exposures
FROM exposures_rollup GROUP BY experiment, first_variant, multiple, ` + hour + `, channel`},
		{name: "slice_metrics", keys: "experiment, variant, multiple, hour, channel, metric, currency",
			sums: metricSums,
			label: `variant || '/' || CAST(multiple AS TEXT) || '/' || hour || '/' || channel || '/' || metric || '/' ||
	currency`,
			expected: `SELECT experiment, variant, multiple, ` + hour + ` AS hour, channel, metric, currency,
	COUNT(*) AS converted, SUM(conversions) AS conversions, SUM(CAST(conversions AS ` + x + `) * conversions) AS count_squares,
	SUM(revenue) AS revenue, SUM(CAST(revenue AS ` + x + `) * revenue) AS revenue_squares,
	SUM(CAST(revenue AS ` + x + `) * conversions) AS revenue_count, SUM(cost) AS cost
FROM unit_metrics WHERE conversions > 0
GROUP BY experiment, variant, multiple, ` + hour + `, channel, metric, currency`},
	}
}

// summedDimension reports whether the slice sums answer the statistics
// of dimension: overall, by channel, by hour and by hour × channel.
func summedDimension(dimension string) bool {
	switch dimension {
	case "", experiments.DimensionChannel, experiments.DimensionHour, experiments.DimensionHourChannel:
		return true
	}
	return false
}

// readSlices runs the two aggregates of SufficientStats for q over the
// slice sums (q.Dimension a summedDimension, no q.Until), in tx: the same
// rows as ReadStats over the rollups.
func (d CohortDialect) readSlices(ctx context.Context, tx Queryer, q experiments.StatsQuery) (*experiments.SufficientStats, error) {
	hd := d.StatsDialect
	hd.HourSlice = "hour"
	s := hd.SliceOf(q)
	return d.readSums(ctx, tx, s.Analysed,
		`SELECT `+s.Expr+` AS slice, variant, multiple, units, exposures FROM slice_units WHERE experiment = `+d.TextParam,
		[]any{q.Experiment},
		`SELECT `+s.Expr+` AS slice, variant, multiple, metric, `+metricSums+` FROM slice_metrics WHERE experiment = `+d.TextParam,
		[]any{q.Experiment})
}

// readSums runs the two aggregates of SufficientStats over relations of
// kept sums: units has the columns slice, variant, multiple, units and
// exposures; metrics slice, variant, multiple, metric and metricSums.
// The units are counted per (slice, variant) for the analysed ones
// (analysed, over multiple) and the multiple-exposed ones; the metric sums
// add up the analysed rows per (slice, variant, metric). A (slice,
// variant) is present when it has units, a metric row when it has
// converted units.
func (d CohortDialect) readSums(ctx context.Context, tx Queryer, analysed, units string, unitArgs []any,
	metrics string, metricArgs []any) (*experiments.SufficientStats, error) {
	var vs []VariantRow
	err := tx.SelectContext(ctx, &vs, `SELECT slice, variant,
	SUM(CASE WHEN `+analysed+` THEN units ELSE 0 END) AS units,
	SUM(CASE WHEN `+analysed+` THEN exposures ELSE 0 END) AS exposures,
	SUM(CASE WHEN multiple THEN units ELSE 0 END) AS multiple_exposed
FROM (`+units+`) x GROUP BY slice, variant HAVING SUM(units) <> 0`, unitArgs...)
	if err != nil {
		return nil, err
	}
	var ms []MetricRow
	err = tx.SelectContext(ctx, &ms, `SELECT slice, variant, metric, SUM(converted) AS converted, `+d.sumsAsFloat()+`
FROM (`+metrics+`) x WHERE `+analysed+`
GROUP BY slice, variant, metric HAVING SUM(converted) <> 0`, metricArgs...)
	if err != nil {
		return nil, err
	}
	return AssembleStats(vs, ms), nil
}

// metricSums are the sum columns of series_metrics and slice_metrics.
const metricSums = "converted, conversions, count_squares, revenue, revenue_squares, revenue_count, cost"

// sumsAsFloat is the select list of the metric sums of the series and
// slice sums tables added up as floating point (StatsDialect.FloatSum):
// count, count_squares, revenue, revenue_squares, revenue_count, cost.
func (d CohortDialect) sumsAsFloat() string {
	var cols []string
	for _, c := range [][2]string{{"conversions", "count"}, {"count_squares", "count_squares"}, {"revenue", "revenue"},
		{"revenue_squares", "revenue_squares"}, {"revenue_count", "revenue_count"}, {"cost", "cost"}} {
		cols = append(cols, fmt.Sprintf(d.FloatSum, c[0])+" AS "+c[1])
	}
	return strings.Join(cols, ", ")
}
