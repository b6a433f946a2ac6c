-- +goose Up
-- The per-unit, per-week rollup of all conversions (issue 17;
-- experiments/sqlstore/weeks.go): per unit, conversion name and week since
-- the unit's first exposure, the count and revenue of its conversions
-- (not only the attributed ones). Week 0 is the CUPED pre-period (the 28
-- days before the first exposure), week k >= 1 is [f + 7(k-1) days,
-- f + 7k days). The report's pre-period sums and repurchase cohorts read it
-- instead of every raw conversion. Maintained at ingest with the other
-- rollups; filled here from the events stored so far.
CREATE TABLE unit_weeks (
	experiment  TEXT NOT NULL,
	unit_id     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	week        INTEGER NOT NULL,
	conversions INTEGER NOT NULL,
	revenue     INTEGER NOT NULL,
	PRIMARY KEY (experiment, unit_id, metric, week)
);
CREATE INDEX unit_weeks_week ON unit_weeks (experiment, week);

INSERT INTO unit_weeks (experiment, unit_id, metric, week, conversions, revenue)
SELECT r.experiment, r.unit_id, c.name AS metric,
	CASE WHEN c.ts < r.first_exposed_at THEN 0 ELSE ((c.ts - r.first_exposed_at) / 604800000000) + 1 END AS week,
	COUNT(*) AS conversions, SUM(c.revenue) AS revenue
FROM exposures_rollup r CROSS JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
LEFT JOIN experiments xw ON xw.key = r.experiment
WHERE c.type = 'conversion' AND c.ts >= r.first_exposed_at - 2419200000000
	AND (c.environment = '' OR c.environment = xw.environment)
GROUP BY 1, 2, 3, 4;
