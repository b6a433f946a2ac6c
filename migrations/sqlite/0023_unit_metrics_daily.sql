-- +goose Up
-- The per-unit, per-day rollup of attributed conversions (issue 17;
-- experiments/sqlstore/daily.go): a unit_metrics row split by UTC day
-- (days since 1970-01-01), holding the changes that day brings to the
-- unit's running count, revenue (refunds on their own day) and cost of
-- conversions of that name. The daily series reads it instead of every
-- attributed raw conversion. Maintained at ingest with the other rollups;
-- filled here from the events stored so far.
CREATE TABLE unit_metrics_daily (
	experiment  TEXT NOT NULL,
	unit_id     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	day         INTEGER NOT NULL,
	variant     TEXT NOT NULL,
	multiple    INTEGER NOT NULL,
	conversions INTEGER NOT NULL,
	revenue     INTEGER NOT NULL,
	cost        INTEGER NOT NULL,
	PRIMARY KEY (experiment, unit_id, metric, day)
);

INSERT INTO unit_metrics_daily (experiment, unit_id, metric, day, variant, multiple, conversions, revenue, cost)
SELECT experiment, unit_id, metric, day, variant, multiple,
	SUM(n) AS conversions, SUM(rev) AS revenue, SUM(cost) AS cost
FROM (
	SELECT r.experiment, r.unit_id, c.name AS metric, (c.ts / 86400000000) AS day, r.first_variant AS variant, r.multiple,
		1 AS n, c.revenue AS rev, CASE WHEN c.name = 'refund' OR (pc.cost_metrics <> '' AND instr(pc.cost_metrics, ',' || c.name || ',') = 0) THEN 0
	ELSE COALESCE(c.promotion_cost, CASE WHEN pc.experiment IS NOT NULL AND (c.revenue > 0 OR c.order_id <> '')
	THEN (c.revenue / 10000) * pc.percent_bp + ((c.revenue % 10000) * pc.percent_bp + 5000) / 10000
		+ CASE WHEN pc.capped THEN MIN(pc.amount, c.revenue) ELSE pc.amount END
	ELSE 0 END) END AS cost
	FROM exposures_rollup r CROSS JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
LEFT JOIN experiments xw ON xw.key = r.experiment
LEFT JOIN promotion_costs pc ON pc.experiment = r.experiment AND pc.variant = r.first_variant
	WHERE c.type = 'conversion' AND c.ts >= r.first_exposed_at
		AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, 604800000000)
		AND (c.environment = '' OR c.environment = xw.environment)
	UNION ALL
	SELECT experiment, unit_id, metric, day, variant, multiple, 0,
		-(MIN(orev, cum) - MIN(orev, cum - amt)),
		-(CASE WHEN disc = 1 AND orev > 0 AND cum >= orev AND cum - amt < orev THEN ocost ELSE 0 END)
	FROM (
		SELECT r.experiment, r.unit_id, c.name AS metric, (f.ts / 86400000000) AS day, r.first_variant AS variant, r.multiple,
			c.revenue AS orev, CASE WHEN c.name = 'refund' OR (pc.cost_metrics <> '' AND instr(pc.cost_metrics, ',' || c.name || ',') = 0) THEN 0
	ELSE COALESCE(c.promotion_cost, CASE WHEN pc.experiment IS NOT NULL AND (c.revenue > 0 OR c.order_id <> '')
	THEN (c.revenue / 10000) * pc.percent_bp + ((c.revenue % 10000) * pc.percent_bp + 5000) / 10000
		+ CASE WHEN pc.capped THEN MIN(pc.amount, c.revenue) ELSE pc.amount END
	ELSE 0 END) END AS ocost, CASE WHEN pc.type IN ('percent_off', 'amount_off') THEN 1 ELSE 0 END AS disc,
			CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END AS amt,
			SUM(CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END) OVER (PARTITION BY r.experiment, c.event_id, c.environment ORDER BY f.ts, f.event_id) AS cum
		FROM exposures_rollup r CROSS JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
LEFT JOIN experiments xw ON xw.key = r.experiment
LEFT JOIN promotion_costs pc ON pc.experiment = r.experiment AND pc.variant = r.first_variant
		CROSS JOIN events f ON f.type = 'conversion' AND f.name = 'refund' AND f.unit_id = c.unit_id
			AND f.order_id = c.order_id AND f.ts >= c.ts AND (f.environment = '' OR f.environment = xw.environment)
	WHERE c.type = 'conversion' AND c.ts >= r.first_exposed_at
		AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, 604800000000)
		AND (c.environment = '' OR c.environment = xw.environment) AND c.order_id <> '' AND c.name <> 'refund'
	) x
) y
GROUP BY experiment, unit_id, metric, day, variant, multiple;
