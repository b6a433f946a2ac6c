package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/promolift/promolift/experiments"
)

// The rollup tables' columns, in the order of the stores' exposureSelect
// and metricsSelect.
const (
	RollupColumns  = `experiment, unit_id, first_variant, first_exposed_at, first_event_id, exposures, multiple, attributes, channel`
	MetricsColumns = `experiment, unit_id, metric, variant, multiple, channel, first_exposed_at, conversions, revenue, cost, currency`
)

// MaxRollupDiffs bounds the differences CheckRollups reports per table and
// direction.
const MaxRollupDiffs = 100

// RowsQueryer runs a query that returns rows (a *sql.DB, *sql.Tx or their
// sqlx forms).
type RowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ExposureSelect selects one exposures_rollup row per (experiment, unit)
// from the raw exposures e of from (events e, possibly with a join or an
// index hint), with the extra condition where (both static SQL): the
// first exposure is the least (ts, event_id), and a unit is multiple when
// its exposures name more than one variant.
func ExposureSelect(from, where string) string {
	return `SELECT experiment, unit_id, variant AS first_variant, ts AS first_exposed_at, event_id AS first_event_id,
	n AS exposures, vmin <> vmax AS multiple, attributes, channel
FROM (
	SELECT e.experiment, e.unit_id, e.variant, e.ts, e.event_id, e.attributes, e.channel,
		ROW_NUMBER() OVER (PARTITION BY e.experiment, e.unit_id ORDER BY e.ts, e.event_id) AS rn,
		COUNT(*) OVER (PARTITION BY e.experiment, e.unit_id) AS n,
		MIN(e.variant) OVER (PARTITION BY e.experiment, e.unit_id) AS vmin,
		MAX(e.variant) OVER (PARTITION BY e.experiment, e.unit_id) AS vmax
	FROM ` + from + `
	WHERE e.type = 'exposure'` + where + `
) x WHERE rn = 1`
}

// CheckRollups compares exposures_rollup, unit_metrics,
// unit_metrics_daily, unit_weeks and unit_orders with what the store's
// recomputation from the raw events selects (expExpected, metExpected,
// dailyExpected, weeksExpected and ordersExpected, with the columns
// RollupColumns, MetricsColumns, DailyColumns, WeekColumns and
// OrdersColumns), and variant_orders with the sums of unit_orders
// (VariantOrdersSelect), and
// describes each differing row, at most MaxRollupDiffs per table and
// direction; none means the rollups are right. A non-empty scope, a
// condition on d.experiment and d.unit_id, limits the comparison to the
// pairs it holds for. Pass a repeatable-read transaction as q for one
// snapshot.
func CheckRollups(ctx context.Context, q RowsQueryer, expExpected, metExpected, dailyExpected, weeksExpected, ordersExpected, scope string) ([]string, error) {
	day := `unit_id || '/' || metric || '/' || CAST(day AS TEXT)`
	week := `unit_id || '/' || metric || '/' || CAST(week AS TEXT)`
	order := `unit_id || '/' || metric || '/' || channel || '/' || CAST(value AS TEXT)`
	variantOrder := `metric || '/' || variant || '/' || channel || '/' || CAST(value AS TEXT)`
	variantOrders := `SELECT ` + VariantOrdersColumns + ` FROM variant_orders WHERE orders <> 0`
	checks := []struct{ label, q string }{
		{"exposures_rollup: missing or wrong", `SELECT experiment, unit_id FROM (` + expExpected +
			` EXCEPT SELECT ` + RollupColumns + ` FROM exposures_rollup) d`},
		{"exposures_rollup: unexpected or wrong", `SELECT experiment, unit_id FROM (SELECT ` + RollupColumns +
			` FROM exposures_rollup EXCEPT ` + expExpected + `) d`},
		{"unit_metrics: missing or wrong", `SELECT experiment, unit_id || '/' || metric FROM (` + metExpected +
			` EXCEPT SELECT ` + MetricsColumns + ` FROM unit_metrics) d`},
		{"unit_metrics: unexpected or wrong", `SELECT experiment, unit_id || '/' || metric FROM (SELECT ` + MetricsColumns +
			` FROM unit_metrics EXCEPT ` + metExpected + `) d`},
		{"unit_metrics_daily: missing or wrong", `SELECT experiment, ` + day + ` FROM (` + dailyExpected +
			` EXCEPT SELECT ` + DailyColumns + ` FROM unit_metrics_daily) d`},
		{"unit_metrics_daily: unexpected or wrong", `SELECT experiment, ` + day + ` FROM (SELECT ` + DailyColumns +
			` FROM unit_metrics_daily EXCEPT ` + dailyExpected + `) d`},
		{"unit_weeks: missing or wrong", `SELECT experiment, ` + week + ` FROM (` + weeksExpected +
			` EXCEPT SELECT ` + WeekColumns + ` FROM unit_weeks) d`},
		{"unit_weeks: unexpected or wrong", `SELECT experiment, ` + week + ` FROM (SELECT ` + WeekColumns +
			` FROM unit_weeks EXCEPT ` + weeksExpected + `) d`},
		{"unit_orders: missing or wrong", `SELECT experiment, ` + order + ` FROM (` + ordersExpected +
			` EXCEPT SELECT ` + OrdersColumns + ` FROM unit_orders) d`},
		{"unit_orders: unexpected or wrong", `SELECT experiment, ` + order + ` FROM (SELECT ` + OrdersColumns +
			` FROM unit_orders EXCEPT ` + ordersExpected + `) d`},
	}
	// variant_orders follows unit_orders, frozen units included: no scope.
	unscoped := []struct{ label, q string }{
		{"variant_orders: missing or wrong", `SELECT experiment, ` + variantOrder + ` FROM (` + VariantOrdersSelect +
			` EXCEPT ` + variantOrders + `) d`},
		{"variant_orders: unexpected or wrong", `SELECT experiment, ` + variantOrder + ` FROM (` + variantOrders +
			` EXCEPT ` + VariantOrdersSelect + `) d`},
	}
	var diffs []string
	for i, c := range append(checks, unscoped...) {
		query := c.q
		if scope != "" && i < len(checks) {
			query += ` WHERE ` + scope
		}
		found, err := listPairs(ctx, q, query+` ORDER BY 1, 2 LIMIT `+fmt.Sprint(MaxRollupDiffs))
		if err != nil {
			return nil, err
		}
		for _, p := range found {
			diffs = append(diffs, fmt.Sprintf("%s: experiment %q unit %q", c.label, p[0], p[1]))
		}
	}
	return diffs, nil
}

// listPairs runs query, which selects two text columns.
func listPairs(ctx context.Context, q RowsQueryer, query string) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// StatsDialect holds the SQL that differs between the databases in the
// sufficient-statistics queries.
type StatsDialect struct {
	Float string // the floating-point type the sums are cast to
	// FloatSum is the aggregate, a format with one %s for the column,
	// that adds up an integer column of kept sums (the slice and series
	// sums' squares pass int64 with large amounts) as floating point:
	// CAST(SUM(col) AS DOUBLE PRECISION) on PostgreSQL, whose NUMERIC
	// sums are exact; TOTAL(col) on SQLite, whose SUM fails with
	// "integer overflow" when integers add up past int64.
	FloatSum string
	True     string // a condition that always holds
	// HourSlice is the hour (00–23, UTC) of first_exposed_at, as text.
	HourSlice string
	// AttributeValue is the text value of the attribute named by one
	// parameter in the attributes column (NULL when absent).
	AttributeValue string
}

// StatsSlice is how SufficientStats groups units: the slice expression
// (over the columns of the relations ReadStats reads), its arguments, and the
// condition of the analysed units (over the multiple column).
type StatsSlice struct {
	Expr     string
	Args     []any
	Analysed string
}

// SliceOf is the StatsSlice of q.
func (d StatsDialect) SliceOf(q experiments.StatsQuery) StatsSlice {
	s := StatsSlice{Expr: `''`, Analysed: `NOT multiple`}
	switch q.Dimension {
	case "":
	case experiments.DimensionChannel:
		s.Expr = `COALESCE(NULLIF(channel, ''), '` + experiments.NoSlice + `')`
	case experiments.DimensionHour:
		s.Expr = d.HourSlice
	case experiments.DimensionHourChannel:
		s.Expr = d.HourSlice + ` || '/' || COALESCE(NULLIF(channel, ''), '` + experiments.NoSlice + `')`
	default:
		s.Expr = `COALESCE(NULLIF(` + d.AttributeValue + `, ''), '` + experiments.NoSlice + `')`
		s.Args = []any{q.Dimension}
	}
	if q.MultipleExposure == experiments.MultipleFirst {
		s.Analysed = d.True
	}
	return s
}

// ReadStats runs the two aggregates of SufficientStats in tx: per slice
// and variant the analysed units, their exposures and the multiple-exposed
// units over units (with unitArgs), and per slice, variant and metric the
// sums over the analysed converted units of unitMetrics (with metricArgs).
// units has a row per unit (variant, multiple, attributes, channel,
// first_exposed_at, exposures), unitMetrics a row per unit and conversion
// name (the same and metric, conversions, revenue, cost).
func (d StatsDialect) ReadStats(ctx context.Context, tx Queryer, s StatsSlice, units string, unitArgs []any,
	unitMetrics string, metricArgs []any) (*experiments.SufficientStats, error) {
	var vs []VariantRow
	err := tx.SelectContext(ctx, &vs, `SELECT `+s.Expr+` AS slice, variant,
	SUM(CASE WHEN `+s.Analysed+` THEN 1 ELSE 0 END) AS units,
	SUM(CASE WHEN `+s.Analysed+` THEN exposures ELSE 0 END) AS exposures,
	SUM(CASE WHEN multiple THEN 1 ELSE 0 END) AS multiple_exposed
FROM (`+units+`) u GROUP BY 1, 2`, append(append([]any{}, s.Args...), unitArgs...)...)
	if err != nil {
		return nil, err
	}
	f := d.Float
	var ms []MetricRow
	err = tx.SelectContext(ctx, &ms, `SELECT `+s.Expr+` AS slice, variant, metric, COUNT(*) AS converted,
	SUM(CAST(conversions AS `+f+`)) AS count,
	SUM(CAST(conversions AS `+f+`) * conversions) AS count_squares,
	SUM(CAST(revenue AS `+f+`)) AS revenue,
	SUM(CAST(revenue AS `+f+`) * revenue) AS revenue_squares,
	SUM(CAST(revenue AS `+f+`) * conversions) AS revenue_count,
	SUM(CAST(cost AS `+f+`)) AS cost
FROM (`+unitMetrics+`) m
WHERE `+s.Analysed+` AND conversions > 0
GROUP BY 1, 2, 3`, append(append([]any{}, s.Args...), metricArgs...)...)
	if err != nil {
		return nil, err
	}
	return AssembleStats(vs, ms), nil
}
