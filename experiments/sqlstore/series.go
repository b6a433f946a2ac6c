package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The daily series in one pass (experiments.SeriesStore). Every quantity of
// the sufficient statistics as of a cut-off t is a sum over days before t
// of per-day changes, so the queries return those changes per variant (and
// metric) and UTC day, and SeriesStats adds them up to each cut-off:
//
//   - a unit appears on the day of its first exposure f (from the rollup:
//     the first exposure before t is the unit's first exposure whenever
//     f < t), and becomes multiple-exposed on the day of m, its first
//     exposure to another variant (read from the raw exposures of the few
//     units the rollup marks multiple);
//   - per unit and conversion name, with C, R the unit's running count and
//     revenue of attributed conversions at the end of a day and C', R'
//     those at the end of the unit's previous day with conversions, a day
//     with conversions adds C−C', C²−C'², R−R', R²−R'², RC−R'C' and its
//     cost, and the unit's first such day adds one converted unit;
//   - excluding multiple-exposed units, a unit's conversions from the day
//     of m on are left out, and on that day everything it added is taken
//     back.
//
// The days before the last cut-off's day come from the per-day sums of
// seriessums.go (series_units; series_metrics for the units that are not
// multiple-exposed), which hold these changes added up over units. The
// multiple-exposed units (few) are read per unit from
// unit_metrics_daily as above, and so is the last day from the raw
// events, with the earlier days of the units it has conversions of for
// their running totals. When no conversion (nor refund) is stored at or
// after the last cut-off, as for a report as of now, the last day's
// conversions are all before it: their sums are read like the days
// before, and no raw event is.
//
// A day counts for a cut-off t when it starts before t: exact for
// cut-offs at midnight, and for the last one, since nothing at or after
// the last cut-off is read.

// seriesUnitRow is a row of the units query: units of variant appearing
// (present) or becoming multiple-exposed (multiple) on day (days since
// 1970-01-01 UTC).
type seriesUnitRow struct {
	Variant  string `db:"variant"`
	Day      int64  `db:"day"`
	Present  int64  `db:"present"`
	Multiple int64  `db:"multiple"`
}

// seriesMetricRow is a row of the metrics query: the changes of one
// variant and metric on day.
type seriesMetricRow struct {
	MetricRow
	Day int64 `db:"day"`
}

// SeriesStats implements experiments.SeriesStore.SeriesStats in tx (one
// snapshot for both queries); see the comment above.
func (d CohortDialect) SeriesStats(ctx context.Context, tx Queryer, q experiments.StatsQuery,
	cuts []time.Time) ([]*experiments.SufficientStats, error) {
	if len(cuts) == 0 {
		return nil, nil
	}
	if !experiments.SeriesCutsValid(cuts) {
		return nil, experiments.Invalid("cuts", "invalid", "cut-offs must ascend and all but the last be midnights UTC")
	}
	last := d.TimeArg(cuts[len(cuts)-1])
	// The days before the last cut-off's day come from the per-day sums
	// (seriessums.go) and the per-day rollup (daily.go); that day, up to
	// the cut-off, from the raw events, read by time (few rows: at most a
	// day's).
	lastDay := floorDiv(cuts[len(cuts)-1].Unix(), 86400)
	midnight := d.TimeArg(time.Unix(lastDay*86400, 0))
	// u: the multiple-exposed units (few), with m.
	units := `u AS (
	SELECT r.experiment, r.unit_id, r.first_variant, r.first_exposed_at AS f,
		(SELECT MIN(x.ts) FROM events x WHERE x.type = 'exposure' AND x.experiment = r.experiment
			AND x.unit_id = r.unit_id AND x.variant <> r.first_variant AND x.ts < ` + d.TimeParam + `) AS m
	FROM exposures_rollup r WHERE r.experiment = ` + d.TextParam + ` AND r.multiple AND r.first_exposed_at < ` + d.TimeParam + `
)`
	unitArgs := []any{last, q.Experiment, last}
	// mDay is the first day whose conversions come from the raw events:
	// the last cut-off's, or the day after when no conversion is at or
	// after the cut-off (see above); mMidnight is its start.
	mDay, mMidnight := lastDay, midnight
	var later bool
	if err := tx.GetContext(ctx, &later, `SELECT EXISTS (SELECT 1 FROM events WHERE type = 'conversion' AND ts >= `+
		d.TimeParam+`)`, last); err != nil {
		return nil, err
	}
	if !later {
		mDay++
		mMidnight = d.TimeArg(time.Unix(mDay*86400, 0))
	}
	var us []seriesUnitRow
	err := tx.SelectContext(ctx, &us, `WITH `+units+`
SELECT variant, day, SUM(units) AS present, 0 AS multiple FROM series_units
WHERE experiment = `+d.TextParam+` AND day < `+d.IntParam+` GROUP BY variant, day HAVING SUM(units) <> 0
UNION ALL
SELECT first_variant, `+d.Day("first_exposed_at")+`, COUNT(*), 0 FROM exposures_rollup
WHERE experiment = `+d.TextParam+` AND first_exposed_at >= `+d.TimeParam+` AND first_exposed_at < `+d.TimeParam+` GROUP BY 1, 2
UNION ALL
SELECT first_variant, `+d.Day("m")+`, 0, COUNT(*) FROM u WHERE m IS NOT NULL GROUP BY 1, 2`,
		append(append([]any{}, unitArgs...), q.Experiment, lastDay, q.Experiment, midnight, last)...)
	if err != nil {
		return nil, err
	}
	exclude := q.MultipleExposure != experiments.MultipleFirst
	f := d.Float
	// mu are the units with m.
	// keep(day) leaves out, excluding multiple-exposed units, what comes
	// from the day of m on.
	keep := func(day string) string {
		if !exclude {
			return ""
		}
		return `
		AND (mu.m IS NULL OR ` + day + ` < ` + d.Day("mu.m") + `)`
	}
	// The unit r of a raw conversion or refund e of the last day, with
	// its experiment xw and cost rule pc (and the joins join); events e
	// drives the join.
	lastDayOf := func(e, join string) string {
		return `FROM events ` + e + ` ` + d.JoinEvents + ` exposures_rollup r ON r.experiment = ` + d.TextParam + ` AND r.unit_id = ` + e + `.unit_id
	LEFT JOIN mu ON mu.unit_id = r.unit_id
	LEFT JOIN experiments xw ON xw.key = r.experiment` + CostJoin + join + `
	WHERE ` + e + `.type = 'conversion' AND ` + e + `.ts >= ` + d.TimeParam + ` AND ` + e + `.ts < ` + d.TimeParam + `
		AND ` + CountsIn(e, "xw.environment")
	}
	window := `COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `)` + d.Micros
	amt := func(e string) string {
		return `CASE WHEN ` + e + `.revenue > 0 THEN ` + e + `.revenue ELSE c.revenue END`
	}
	// A refund f (MoneyDialect) changes its order c on its own day: with
	// cum the refunds of c up to f, by (ts, event_id), it takes back
	// LEAST(revenue, cum) − LEAST(revenue, cum − amt) of the revenue, and
	// the cost of a discount when it completes a full refund.
	query := `WITH ` + units + `,
mu AS (SELECT unit_id, m FROM u WHERE m IS NOT NULL),
ld AS (SELECT DISTINCT unit_id FROM events WHERE type = 'conversion' AND ts >= ` + d.TimeParam + ` AND ts < ` + d.TimeParam + `),
c0 AS (
	SELECT d.unit_id, d.variant, mu.m, d.multiple AS mult, d.metric, d.day, d.conversions AS n, d.revenue AS rev, d.cost
	FROM unit_metrics_daily d LEFT JOIN mu ON mu.unit_id = d.unit_id
	WHERE d.experiment = ` + d.TextParam + ` AND d.multiple AND d.day < ` + d.IntParam + keep("d.day") + `
	UNION ALL
	SELECT d.unit_id, d.variant, NULL, d.multiple, d.metric, d.day, d.conversions, d.revenue, d.cost
	FROM ld ` + d.JoinEvents + ` unit_metrics_daily d ON d.experiment = ` + d.TextParam + ` AND d.unit_id = ld.unit_id
	WHERE NOT d.multiple AND d.day < ` + d.IntParam + `
	UNION ALL
	SELECT r.unit_id, r.first_variant, mu.m, r.multiple, c.name, ` + d.Day("c.ts") + `, 1, c.revenue, ` + d.GrossCost() + `
	` + lastDayOf("c", "") + `
		AND c.ts >= r.first_exposed_at AND c.ts <= r.first_exposed_at + ` + window + keep(d.Day("c.ts")) + `
	UNION ALL
	SELECT unit_id, variant, m, mult, metric, day, 0,
		-(` + d.Least + `(orev, cum) - ` + d.Least + `(orev, cum - amt)),
		-(CASE WHEN disc = 1 AND orev > 0 AND cum >= orev AND cum - amt < orev THEN ocost ELSE 0 END)
	FROM (
		SELECT r.unit_id, r.first_variant AS variant, mu.m, r.multiple AS mult, c.name AS metric, ` + d.Day("f.ts") + ` AS day, c.revenue AS orev,
			` + d.GrossCost() + ` AS ocost, CASE WHEN ` + discount + ` THEN 1 ELSE 0 END AS disc, ` + amt("f") + ` AS amt,
			(SELECT SUM(` + amt("g") + `) FROM events g WHERE g.type = 'conversion' AND g.name = 'refund'
				AND g.unit_id = c.unit_id AND g.order_id = c.order_id AND g.ts >= c.ts
				AND (g.ts < f.ts OR g.ts = f.ts AND g.event_id <= f.event_id) AND ` + CountsIn("g", "xw.environment") + `) AS cum
		` + lastDayOf("f", `
		`+d.JoinEvents+` events c ON c.type = 'conversion' AND c.unit_id = f.unit_id AND c.order_id = f.order_id
			AND c.name <> 'refund' AND c.ts <= f.ts AND c.ts >= r.first_exposed_at AND c.ts <= r.first_exposed_at + `+window+`
			AND `+CountsIn("c", "xw.environment")) + ` AND f.name = 'refund' AND f.order_id <> ''` + keep(d.Day("f.ts")) + `
	) x
),
c AS (
	SELECT unit_id, variant, m, mult, metric, day, SUM(n) AS n, SUM(rev) AS rev, SUM(cost) AS cost
	FROM c0 GROUP BY unit_id, variant, m, mult, metric, day
),
w AS (
	SELECT variant, mult, metric, day, n, rev, cost,
		SUM(n) OVER (PARTITION BY unit_id, metric ORDER BY day) AS cn,
		SUM(rev) OVER (PARTITION BY unit_id, metric ORDER BY day) AS cr
	FROM c
)
SELECT variant, metric, day,
	SUM(CASE WHEN cn = n THEN 1 ELSE 0 END) AS converted,
	SUM(CAST(n AS ` + f + `)) AS count,
	SUM(CAST(cn AS ` + f + `) * cn - CAST(cn - n AS ` + f + `) * (cn - n)) AS count_squares,
	SUM(CAST(rev AS ` + f + `)) AS revenue,
	SUM(CAST(cr AS ` + f + `) * cr - CAST(cr - rev AS ` + f + `) * (cr - rev)) AS revenue_squares,
	SUM(CAST(cr AS ` + f + `) * cn - CAST(cr - rev AS ` + f + `) * (cn - n)) AS revenue_count,
	SUM(CAST(cost AS ` + f + `)) AS cost
FROM w WHERE mult OR day >= ` + d.IntParam + ` GROUP BY variant, metric, day`
	if exclude {
		query += `
UNION ALL
SELECT variant, metric, ` + d.Day("m") + ` AS day, -COUNT(*),
	-SUM(CAST(tn AS ` + f + `)), -SUM(CAST(tn AS ` + f + `) * tn),
	-SUM(CAST(tr AS ` + f + `)), -SUM(CAST(tr AS ` + f + `) * tr), -SUM(CAST(tr AS ` + f + `) * tn),
	-SUM(CAST(tk AS ` + f + `))
FROM (SELECT variant, metric, m, SUM(n) AS tn, SUM(rev) AS tr, SUM(cost) AS tk
	FROM c WHERE m IS NOT NULL GROUP BY unit_id, variant, metric, m) t
GROUP BY variant, metric, ` + d.Day("m")
	}
	var ms []seriesMetricRow
	args := append(append([]any{}, unitArgs...), mMidnight, last, // ld
		q.Experiment, mDay, q.Experiment, mDay, // the rollup
		q.Experiment, mMidnight, last, // the last day's conversions
		q.Experiment, mMidnight, last, // and refunds
		mDay)
	if err := tx.SelectContext(ctx, &ms, query, args...); err != nil {
		return nil, err
	}
	// The other units' days before the last: their per-day sums.
	var sums []seriesMetricRow
	if err := tx.SelectContext(ctx, &sums, `SELECT variant, metric, day, SUM(converted) AS converted,
	`+d.sumsAsFloat()+`
FROM series_metrics WHERE experiment = `+d.TextParam+` AND day < `+d.IntParam+` GROUP BY variant, metric, day`,
		q.Experiment, mDay); err != nil {
		return nil, err
	}
	return addUpSeries(cuts, us, append(ms, sums...), exclude), nil
}

// floorDiv is a / b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// addUpSeries adds the per-day changes up to each cut-off.
func addUpSeries(cuts []time.Time, us []seriesUnitRow, ms []seriesMetricRow, exclude bool) []*experiments.SufficientStats {
	sort.SliceStable(us, func(i, j int) bool { return us[i].Day < us[j].Day })
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Day < ms[j].Day })
	type key struct{ variant, metric string }
	units := map[string]*seriesUnitRow{}
	sums := map[key]*MetricRow{}
	var variantOrder []string
	var metricOrder []key
	out := make([]*experiments.SufficientStats, len(cuts))
	ui, mi := 0, 0
	for k, cut := range cuts {
		before := func(day int64) bool { return time.Unix(day*86400, 0).Before(cut) }
		for ; ui < len(us) && before(us[ui].Day); ui++ {
			r := us[ui]
			a, ok := units[r.Variant]
			if !ok {
				a = &seriesUnitRow{Variant: r.Variant}
				units[r.Variant] = a
				variantOrder = append(variantOrder, r.Variant)
			}
			a.Present += r.Present
			a.Multiple += r.Multiple
		}
		for ; mi < len(ms) && before(ms[mi].Day); mi++ {
			r := ms[mi]
			kk := key{r.Variant, r.Metric}
			a, ok := sums[kk]
			if !ok {
				a = &MetricRow{Variant: r.Variant, Metric: r.Metric}
				sums[kk] = a
				metricOrder = append(metricOrder, kk)
			}
			a.Converted += r.Converted
			a.Count += r.Count
			a.CountSquares += r.CountSquares
			a.Revenue += r.Revenue
			a.RevenueSquares += r.RevenueSquares
			a.RevenueCount += r.RevenueCount
			a.Cost += r.Cost
		}
		var vs []VariantRow
		for _, v := range variantOrder {
			a := units[v]
			if a.Present == 0 {
				continue
			}
			n := a.Present
			if exclude {
				n -= a.Multiple
			}
			vs = append(vs, VariantRow{Variant: v, Units: n, MultipleExposed: a.Multiple})
		}
		var rows []MetricRow
		for _, kk := range metricOrder {
			if a := sums[kk]; a.Converted > 0 {
				rows = append(rows, *a)
			}
		}
		out[k] = AssembleStats(vs, rows)
	}
	return out
}
