package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The per-unit time-window queries of the report that the rollups cannot
// answer alone: repurchase cohorts and the CUPED pre-period.

// CohortDialect holds the SQL that differs between the databases in the
// cohort and pre-period queries. Durations are written in microseconds
// (a fixed 7×24 h week, never calendar days, which DST would stretch).
type CohortDialect struct {
	StatsDialect // Float and True
	// IntParam, TextParam and TimeParam are a parameter of that type
	// (PostgreSQL casts them, SQLite takes a plain ?).
	IntParam, TextParam, TimeParam string
	// TimeArg is the argument of a TimeParam.
	TimeArg func(time.Time) any
	// Micros follows an SQL expression of microseconds to make it a
	// duration to add to a timestamp column (empty when timestamps are
	// microseconds themselves).
	Micros string
	// WeeksSince is the number of whole weeks (7×24 h) from the
	// timestamp expression f to the timestamp expression ts, for ts ≥ f.
	WeeksSince func(ts, f string) string
	// JoinEvents is the join of the conversions (events c) to the few
	// units on its left: SQLite's CROSS JOIN keeps the units as the outer
	// loop, so that it finds their events through the indexes.
	JoinEvents string
	// MoneyDialect is for the money of the conversions (money.go).
	MoneyDialect
	// Day is the UTC day of the timestamp expression col, as whole days
	// since 1970-01-01.
	Day func(col string) string
	// Hours is the hour of the timestamp expression col, as whole hours
	// since 1970-01-01 00:00 UTC.
	Hours func(col string) string
	// Exact is the type the products of the sums of squares are computed
	// in when they are recomputed from the rollups (seriessums.go,
	// slicesums.go): NUMERIC in PostgreSQL, exact for products of two
	// BIGINTs; REAL in SQLite, exact below 2^53 and never overflowing
	// (SQLite's own triggers add integers and turn to REAL past int64).
	Exact string
	// AttributePairs is a table function of the (attribute, value) pairs
	// of the attributes column of exposures_rollup r, as columns key and
	// value (attrsums.go); PairValue is the value of its row p as text.
	AttributePairs, PairValue string
}

// Units selects the units of q.Experiment (the exposures_rollup columns)
// and returns the query's arguments: from the rollup, or with q.Until
// recomputed from the raw exposures before it.
func (d CohortDialect) Units(q experiments.StatsQuery) (string, []any) {
	if q.Until.IsZero() {
		return `SELECT unit_id, first_variant, first_exposed_at, multiple, attributes, channel
FROM exposures_rollup WHERE experiment = ?`, []any{q.Experiment}
	}
	return ExposureSelect("events e", " AND e.experiment = ? AND e.ts < ?"), []any{q.Experiment, d.TimeArg(q.Until)}
}

// firstExposure is the earliest (agg MIN) or the latest (agg MAX) first
// exposure of the units of one experiment (parameter: its key), from the
// rollup and its index exposures_rollup_first; NULL without units. It bounds
// the report's reads of raw conversions, so that PostgreSQL prunes the
// monthly partitions of events outside them. The bounds hold for the units
// of Units with Until too: a unit exposed before Until has the same first
// exposure in the rollup.
func (d CohortDialect) firstExposure(agg string) string {
	return `(SELECT ` + agg + `(first_exposed_at) FROM exposures_rollup WHERE experiment = ` + d.TextParam + `)`
}

// environmentOf is the environment of one experiment (parameter: its
// key), for CountsIn in the queries that do not join experiments.
func (d CohortDialect) environmentOf() string {
	return `(SELECT environment FROM experiments WHERE key = ` + d.TextParam + `)`
}

// SufficientStats reads the sufficient statistics of q in tx (pass a
// transaction: one snapshot for all its queries). Without q.Until they come
// from the slice sums (slicesums.go) when they hold q.Dimension, else from
// the attribute sums (attrsums.go); with q.Until they are recomputed from
// the raw events before it (statsUntil). With q.PrePeriod, AddPrePeriod
// adds the CUPED pre-period sums.
func (d CohortDialect) SufficientStats(ctx context.Context, tx Queryer, q experiments.StatsQuery) (*experiments.SufficientStats, error) {
	sl := d.SliceOf(q)
	var out *experiments.SufficientStats
	var err error
	switch {
	case !q.Until.IsZero():
		out, err = d.statsUntil(ctx, tx, q, sl)
	case summedDimension(q.Dimension):
		out, err = d.readSlices(ctx, tx, q) // slicesums.go
	default:
		out, err = d.readAttribute(ctx, tx, q) // attrsums.go
	}
	if err != nil {
		return nil, err
	}
	if q.PrePeriod {
		if err := d.AddPrePeriod(ctx, tx, q, sl, out.Metrics); err != nil {
			return nil, err
		}
	}
	if q.Until.IsZero() && q.Dimension == "" {
		if out.Currencies, err = d.currencies(ctx, tx, q.Experiment, sl.Analysed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// statsUntil reads the sufficient statistics of q (q.Until set) sliced by
// sl from the raw events before q.Until: the units of Units, to which the
// attributed conversions before q.Until are joined.
func (d CohortDialect) statsUntil(ctx context.Context, tx Queryer, q experiments.StatsQuery, sl StatsSlice) (*experiments.SufficientStats, error) {
	units, unitArgs := d.Units(q)
	// unitRel: variant, multiple, attributes, channel, first_exposed_at, exposures.
	// metricRel: the same and metric, conversions, revenue, cost.
	unitRel := `SELECT first_variant AS variant, multiple, attributes, channel, first_exposed_at, exposures FROM (` + units + `) r`
	// Refunds count as of Until too.
	before := ` AND f.ts < ` + d.TimeParam
	metricRel := `SELECT r.first_variant AS variant, r.multiple, r.attributes, r.channel, r.first_exposed_at, c.name AS metric,
	COUNT(*) AS conversions, SUM(` + d.Revenue(before) + `) AS revenue, SUM(` + d.Cost(before) + `) AS cost
FROM (` + units + `) r
LEFT JOIN experiments xw ON xw.key = r.experiment` + CostJoin + `
` + d.JoinEvents + ` events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
	AND c.ts >= r.first_exposed_at
	AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `)` + d.Micros + `
	AND c.ts < ` + d.TimeParam + ` AND ` + CountsIn("c", "xw.environment") + `
GROUP BY r.unit_id, r.first_variant, r.multiple, r.attributes, r.channel, r.first_exposed_at, c.name`
	until := d.TimeArg(q.Until)
	metricArgs := append(append([]any{until, until}, unitArgs...), until)
	return d.ReadStats(ctx, tx, sl, unitRel, unitArgs, metricRel, metricArgs)
}

// currencies reads the money of the analysed units of experiment per
// variant, conversion name and currency from the slice sums
// (experiments.SufficientStats.Currencies).
func (d CohortDialect) currencies(ctx context.Context, tx Queryer, experiment, analysed string) ([]experiments.CurrencySums, error) {
	var rows []struct {
		Variant  string  `db:"variant"`
		Metric   string  `db:"metric"`
		Currency string  `db:"currency"`
		Units    int64   `db:"units"`
		Revenue  float64 `db:"revenue"`
		Cost     float64 `db:"cost"`
	}
	err := tx.SelectContext(ctx, &rows, `SELECT variant, metric, currency, SUM(converted) AS units,
	CAST(SUM(revenue) AS `+d.Float+`) AS revenue, CAST(SUM(cost) AS `+d.Float+`) AS cost
FROM slice_metrics WHERE experiment = `+d.TextParam+` AND `+analysed+`
GROUP BY variant, metric, currency HAVING SUM(converted) <> 0 ORDER BY variant, metric, currency`, experiment)
	if err != nil {
		return nil, err
	}
	out := make([]experiments.CurrencySums, len(rows))
	for i, r := range rows {
		out[i] = experiments.CurrencySums(r)
	}
	return out, nil
}

// defaultWindowUS is the attribution window used for exposures of an
// experiment that is not (or no longer) in the experiments table.
var defaultWindowUS = experiments.DefaultAttributionWindow.Microseconds()

// CohortStats runs the query of experiments.CohortStore.CohortStats on q
// (a database handle or transaction), over the units of Units.
//
// For the analysed units (q.MultipleExposure applies; q.Dimension is
// ignored) and each week k = 1..weeks after a unit's first exposure f,
// that is the interval [f + 7(k−1)·24 h, f + 7k·24 h):
//
//   - Units counts the units whose week k is over at the cut-off
//     (f + 7k·24 h ≤ CohortCutoff(q));
//   - Repurchasers counts those of them with at least one repurchase in
//     week k: a conversion named metric at or after f that is not the
//     unit's first such conversion since f (order: timestamp, event ID).
//
// Conversions are not limited to the attribution window. Rows come in
// (variant, week) order; weeks nobody has reached are absent. One query:
// without sq.Until over the rollups exposures_rollup and unit_weeks
// (weeks.go), with it over the units of Units and their raw conversions
// of metric.
func (d CohortDialect) CohortStats(ctx context.Context, q Queryer, sq experiments.StatsQuery,
	metric string, weeks int) ([]experiments.CohortRow, error) {
	analysed := `NOT multiple`
	if sq.MultipleExposure == experiments.MultipleFirst {
		analysed = d.True
	}
	if sq.Until.IsZero() {
		return d.cohortStatsFromWeeks(ctx, q, sq, metric, weeks, analysed) // weeks.go
	}
	units, unitArgs := d.Units(sq)
	cut := d.TimeArg(CohortCutoff(sq))
	week := fmt.Sprint((7 * 24 * time.Hour).Microseconds()) + d.Micros
	query := `WITH RECURSIVE wk(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM wk WHERE k < ` + d.IntParam + `),
u AS (
	SELECT unit_id, first_variant AS variant, first_exposed_at AS f FROM (` + units + `) r
	WHERE ` + analysed + ` AND first_exposed_at < ` + d.TimeParam + `
),
rep AS (
	SELECT DISTINCT unit_id, week FROM (
		SELECT u.unit_id, ` + d.WeeksSince("c.ts", "u.f") + ` + 1 AS week,
			ROW_NUMBER() OVER (PARTITION BY u.unit_id ORDER BY c.ts, c.event_id) AS rn
		FROM u ` + d.JoinEvents + ` events c ON c.type = 'conversion' AND c.unit_id = u.unit_id
			AND c.name = ` + d.TextParam + ` AND c.ts >= u.f AND c.ts < ` + d.TimeParam + `
			AND c.ts >= ` + d.firstExposure("MIN") + ` AND ` + CountsIn("c", d.environmentOf()) + `
	) x WHERE rn >= 2
)
SELECT u.variant, wk.k AS week, COUNT(*) AS units, COUNT(rep.unit_id) AS repurchasers
FROM u JOIN wk ON u.f + wk.k * ` + week + ` <= ` + d.TimeParam + `
LEFT JOIN rep ON rep.unit_id = u.unit_id AND rep.week = wk.k
GROUP BY u.variant, wk.k
ORDER BY u.variant, wk.k`
	args := append(append([]any{weeks}, unitArgs...), cut, metric, cut, sq.Experiment, sq.Experiment, cut)
	var rows []CohortRow
	if err := q.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, err
	}
	return Cohorts(rows), nil
}

// AddPrePeriod fills PreSum, PreSumSquares and PreCrossSum of ms, the
// answer of SufficientStats for sq with slice sl, in tx, over the units of
// Units.
//
// The covariate x_u of a unit and conversion name is its revenue of that
// name in [f − PrePeriod, f), f its first exposure; y_u is its attributed
// revenue (before sq.Until). Units without pre-period revenue add nothing
// to the sums. Without sq.Until both come from the rollups (x from week 0
// of unit_weeks, y from unit_metrics); with it from the raw events
// (prePeriodFromEvents). Sums of a metric without an entry in ms (no
// attributed conversion at all) are dropped.
func (d CohortDialect) AddPrePeriod(ctx context.Context, tx Queryer, sq experiments.StatsQuery, sl StatsSlice,
	ms []experiments.MetricSums) error {
	f := d.Float
	rel, args := prePeriodFromWeeks, []any{sq.Experiment} // weeks.go
	if !sq.Until.IsZero() {
		rel, args = d.prePeriodFromEvents(sq)
	}
	query := `SELECT ` + sl.Expr + ` AS slice, variant, metric,
	SUM(CAST(x AS ` + f + `)) AS pre_sum,
	SUM(CAST(x AS ` + f + `) * x) AS pre_sum_squares,
	SUM(CAST(x AS ` + f + `) * y) AS pre_cross_sum
FROM (` + rel + `) m
WHERE ` + sl.Analysed + `
GROUP BY 1, 2, 3`
	args = append(append([]any{}, sl.Args...), args...)
	var rows []PreRow
	if err := tx.SelectContext(ctx, &rows, query, args...); err != nil {
		return err
	}
	MergePrePeriod(ms, rows)
	return nil
}

// prePeriodFromEvents is the relation of AddPrePeriod recomputed from the
// raw events before sq.Until, with its arguments: per analysable unit of
// Units and conversion name with pre-period revenue x, its attributed
// revenue y before sq.Until, with the unit's variant, multiple flag,
// attributes, channel and first exposure.
func (d CohortDialect) prePeriodFromEvents(sq experiments.StatsQuery) (string, []any) {
	units, unitArgs := d.Units(sq)
	y := `COALESCE((SELECT SUM(a.revenue) FROM events a WHERE a.type = 'conversion' AND a.unit_id = p.unit_id
		AND a.name = p.metric AND a.ts >= p.first_exposed_at AND a.ts < ` + d.TimeParam + `
		AND a.ts <= p.first_exposed_at + COALESCE((SELECT attribution_window_us FROM experiments WHERE key = ` + d.TextParam + `), ` +
		fmt.Sprint(defaultWindowUS) + `)` + d.Micros + ` AND ` + CountsIn("a", d.environmentOf()) + `), 0)`
	pre := fmt.Sprint(experiments.PrePeriod.Microseconds()) + d.Micros
	rel := `SELECT p.variant, p.multiple, p.attributes, p.channel, p.first_exposed_at, p.metric, p.x, ` + y + ` AS y
	FROM (
		SELECT r.unit_id, r.first_variant AS variant, r.multiple, r.first_exposed_at, r.attributes, r.channel,
			c.name AS metric, SUM(c.revenue) AS x
		FROM (` + units + `) r
		` + d.JoinEvents + ` events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
			AND c.ts >= r.first_exposed_at - ` + pre + ` AND c.ts < r.first_exposed_at
			AND c.ts >= ` + d.firstExposure("MIN") + ` - ` + pre + ` AND c.ts < ` + d.firstExposure("MAX") + `
			AND ` + CountsIn("c", d.environmentOf()) + `
		GROUP BY r.unit_id, r.first_variant, r.multiple, r.first_exposed_at, r.attributes, r.channel, c.name
		HAVING SUM(c.revenue) <> 0
	) p`
	args := append(append([]any{d.TimeArg(sq.Until), sq.Experiment, sq.Experiment}, unitArgs...), sq.Experiment, sq.Experiment, sq.Experiment)
	return rel, args
}
