package sqlstore

import "fmt"

// The per-unit, per-day rollup unit_metrics_daily: a unit_metrics row split
// by UTC day, so that the daily series (SeriesStats) reads one row per unit,
// conversion name and day with conversions instead of every attributed raw
// conversion and refund.
//
// A row (experiment, unit_id, metric, day) holds the changes that day
// brings to the unit's running count, revenue and cost of attributed
// conversions of that name (CountsIn applies to conversions and refunds):
//
//   - each attributed conversion c adds 1, c.revenue and its gross cost
//     (MoneyDialect.GrossCost) on the day of c.ts;
//   - each refund f of an attributed order c (same unit and order ID, at
//     or after c) takes back, on the day of f.ts, LEAST(revenue, cum) −
//     LEAST(revenue, cum − amt) of c's revenue, with cum c's refunds up to
//     f by (ts, event_id), and the cost of a discount when it completes a
//     full refund.
//
// variant and multiple copy the unit's first_variant and multiple flag,
// as in unit_metrics. The rows are written in the same ingest transaction
// as the other rollups: a fresh conversion of an unchanged unit adds its
// changes (and those of its refunds already stored) to its day's row; the
// units whose first exposure moved or that got a refund are rebuilt from
// the raw events, like their unit_metrics rows.

// prev_conversions and prev_revenue are the running sums of the unit's
// rows before day (seriessums.go); DailySelect computes them over the
// conversions it reads, all of the unit's when it rebuilds a unit.
//
// DailyColumns are the columns of unit_metrics_daily, in the order of
// DailySelect.
const DailyColumns = `experiment, unit_id, metric, day, variant, multiple, conversions, revenue, cost, prev_conversions, prev_revenue`

// DailySelect selects unit_metrics_daily rows. pairs is a FROM fragment
// binding r (the exposures_rollup columns), xw (LEFT JOIN experiments),
// pc (CostJoin) and c, conversions of r.unit_id; where is an extra
// condition on them (static SQL; its parameters come once for each of the
// two branches).
func (d CohortDialect) DailySelect(pairs, where string) string {
	attributed := func(join, cond string) string {
		return `FROM ` + pairs + join + `
	WHERE c.type = 'conversion' AND c.ts >= r.first_exposed_at
		AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `)` + d.Micros + `
		AND ` + CountsIn("c", "xw.environment") + cond + where
	}
	return `SELECT experiment, unit_id, metric, day, variant, multiple,
	SUM(n) AS conversions, SUM(rev) AS revenue, SUM(cost) AS cost,
	SUM(SUM(n)) OVER k - SUM(n) AS prev_conversions, SUM(SUM(rev)) OVER k - SUM(rev) AS prev_revenue
FROM (
	SELECT r.experiment, r.unit_id, c.name AS metric, ` + d.Day("c.ts") + ` AS day, r.first_variant AS variant, r.multiple,
		1 AS n, c.revenue AS rev, ` + d.GrossCost() + ` AS cost
	` + attributed("", "") + `
	UNION ALL
	SELECT experiment, unit_id, metric, day, variant, multiple, 0,
		-(` + d.Least + `(orev, cum) - ` + d.Least + `(orev, cum - amt)),
		-(CASE WHEN disc = 1 AND orev > 0 AND cum >= orev AND cum - amt < orev THEN ocost ELSE 0 END)
	FROM (
		SELECT r.experiment, r.unit_id, c.name AS metric, ` + d.Day("f.ts") + ` AS day, r.first_variant AS variant, r.multiple,
			c.revenue AS orev, ` + d.GrossCost() + ` AS ocost, CASE WHEN ` + discount + ` THEN 1 ELSE 0 END AS disc,
			CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END AS amt,
			SUM(CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END) OVER (PARTITION BY r.experiment, c.event_id, c.environment ORDER BY f.ts, f.event_id) AS cum
		` + attributed(`
		`+d.JoinEvents+` events f ON f.type = 'conversion' AND f.name = 'refund' AND f.unit_id = c.unit_id
			AND f.order_id = c.order_id AND f.ts >= c.ts AND `+CountsIn("f", "xw.environment"),
		` AND c.order_id <> '' AND c.name <> 'refund'`) + `
	) x
) y
GROUP BY experiment, unit_id, metric, day, variant, multiple` + dailyPrevKey
}

// AddDaily is the SET clause of an upsert into unit_metrics_daily that adds
// the changes of excluded (spelled as the database wants it) to the stored
// row.
func AddDaily(excluded string) string {
	return `conversions = m.conversions + ` + excluded + `.conversions, revenue = m.revenue + ` + excluded + `.revenue,
	cost = m.cost + ` + excluded + `.cost`
}
