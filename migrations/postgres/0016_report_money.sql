-- +goose Up
-- Money a report can trust (issue 20; docs/report.md, "Money").
--
-- unit_metrics.currency is the currency of a unit's attributed conversions of
-- one name: the one they carry, '' when none carries one, '*' when several.
-- promotion_costs.cost_metrics are the conversion names that are redemptions
-- of the experiment's promotion (",primary,secondary,...,"; '' for every
-- name): conversions of other names, and refunds, add no promotion cost.
ALTER TABLE unit_metrics ADD COLUMN currency TEXT NOT NULL DEFAULT '';
ALTER TABLE promotion_costs ADD COLUMN cost_metrics TEXT NOT NULL DEFAULT '';

UPDATE promotion_costs SET cost_metrics = COALESCE((
	SELECT CASE WHEN x.primary_metric = '' THEN '' ELSE ',' || x.primary_metric || ',' || COALESCE((
		SELECT string_agg(j.value, ',' ORDER BY j.o) || ',' FROM jsonb_array_elements_text(CAST(x.secondary_metrics AS JSONB)) WITH ORDINALITY AS j(value, o)
		WHERE j.value <> 'refund' AND j.value <> x.primary_metric), '') END
	FROM experiments x WHERE x.key = promotion_costs.experiment), '');

UPDATE unit_metrics SET currency = COALESCE((
	SELECT CASE WHEN MIN(NULLIF(c.currency, '')) IS NULL THEN ''
		WHEN MIN(NULLIF(c.currency, '')) = MAX(NULLIF(c.currency, '')) THEN MIN(NULLIF(c.currency, '')) ELSE '*' END
	FROM events c WHERE c.type = 'conversion' AND c.unit_id = unit_metrics.unit_id AND c.name = unit_metrics.metric
		AND c.ts >= unit_metrics.first_exposed_at
		AND c.ts <= unit_metrics.first_exposed_at + COALESCE((SELECT attribution_window_us FROM experiments
			WHERE key = unit_metrics.experiment), 604800000000) * INTERVAL '1 microsecond'), '');

UPDATE unit_metrics SET cost = 0 WHERE metric = 'refund' OR EXISTS (SELECT 1 FROM promotion_costs pc
	WHERE pc.experiment = unit_metrics.experiment AND pc.variant = unit_metrics.variant
		AND pc.cost_metrics <> '' AND strpos(pc.cost_metrics, ',' || unit_metrics.metric || ',') = 0);

-- Refunds stored before this migration reverse their orders once the rollups
-- are rebuilt: `promolift check` lists the units they affect and
-- `promolift check --repair` rebuilds them.
