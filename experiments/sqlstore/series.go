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
	units := `u AS (
	SELECT r.experiment, r.unit_id, r.first_variant, r.first_exposed_at AS f,
		CASE WHEN r.multiple THEN (SELECT MIN(x.ts) FROM events x WHERE x.type = 'exposure' AND x.experiment = r.experiment
			AND x.unit_id = r.unit_id AND x.variant <> r.first_variant AND x.ts < ` + d.TimeParam + `) END AS m
	FROM exposures_rollup r WHERE r.experiment = ` + d.TextParam + ` AND r.first_exposed_at < ` + d.TimeParam + `
)`
	unitArgs := []any{last, q.Experiment, last}
	var us []seriesUnitRow
	err := tx.SelectContext(ctx, &us, `WITH `+units+`
SELECT first_variant AS variant, `+d.Day("f")+` AS day, COUNT(*) AS present, 0 AS multiple FROM u GROUP BY 1, 2
UNION ALL
SELECT first_variant, `+d.Day("m")+`, 0, COUNT(*) FROM u WHERE m IS NOT NULL GROUP BY 1, 2`, unitArgs...)
	if err != nil {
		return nil, err
	}
	exclude := q.MultipleExposure != experiments.MultipleFirst
	f := d.Float
	cday := d.Day("c.ts")
	keep := ""
	if exclude {
		keep = `
	WHERE r.m IS NULL OR ` + cday + ` < ` + d.Day("r.m")
	}
	// The attributed conversions c of the units r.
	attributed := `FROM u r
	LEFT JOIN experiments xw ON xw.key = r.experiment` + CostJoin + `
	` + d.JoinEvents + ` events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
		AND c.ts >= r.f
		AND c.ts <= r.f + COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `)` + d.Micros + `
		AND c.ts < ` + d.TimeParam + ` AND c.ts >= ` + d.firstExposure("MIN") + `
		AND ` + CountsIn("c", "xw.environment")
	fday := d.Day("f.ts")
	keepRefund := ""
	if exclude {
		keepRefund = `
	WHERE r.m IS NULL OR ` + fday + ` < ` + d.Day("r.m")
	}
	// A refund f (MoneyDialect) changes its order c on its own day: with
	// cum the refunds of c up to f, by (ts, event_id), it takes back
	// LEAST(revenue, cum) − LEAST(revenue, cum − amt) of the revenue, and
	// the cost of a discount when it completes a full refund.
	query := `WITH ` + units + `,
c0 AS (
	SELECT r.unit_id, r.first_variant AS variant, r.m, c.name AS metric, ` + cday + ` AS day,
		1 AS n, c.revenue AS rev, ` + d.GrossCost() + ` AS cost
	` + attributed + keep + `
	UNION ALL
	SELECT unit_id, variant, m, metric, day, 0,
		-(` + d.Least + `(orev, cum) - ` + d.Least + `(orev, cum - amt)),
		-(CASE WHEN disc = 1 AND orev > 0 AND cum >= orev AND cum - amt < orev THEN ocost ELSE 0 END)
	FROM (
		SELECT r.unit_id, r.first_variant AS variant, r.m, c.name AS metric, ` + fday + ` AS day, c.revenue AS orev,
			` + d.GrossCost() + ` AS ocost, CASE WHEN ` + discount + ` THEN 1 ELSE 0 END AS disc,
			CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END AS amt,
			SUM(CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END) OVER (PARTITION BY c.event_id ORDER BY f.ts, f.event_id) AS cum
		` + attributed + ` AND c.order_id <> '' AND c.name <> 'refund'
		` + d.JoinEvents + ` events f ON f.type = 'conversion' AND f.name = 'refund' AND f.unit_id = c.unit_id
			AND f.order_id = c.order_id AND f.ts >= c.ts AND f.ts < ` + d.TimeParam + `
			AND ` + CountsIn("f", "xw.environment") + keepRefund + `
	) x
),
c AS (
	SELECT unit_id, variant, m, metric, day, SUM(n) AS n, SUM(rev) AS rev, SUM(cost) AS cost
	FROM c0 GROUP BY unit_id, variant, m, metric, day
),
w AS (
	SELECT variant, metric, day, n, rev, cost,
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
FROM w GROUP BY variant, metric, day`
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
	args := append(append([]any{}, unitArgs...), last, q.Experiment, last, q.Experiment, last)
	if err := tx.SelectContext(ctx, &ms, query, args...); err != nil {
		return nil, err
	}
	return addUpSeries(cuts, us, ms, exclude), nil
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
