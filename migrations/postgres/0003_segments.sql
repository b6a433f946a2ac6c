-- +goose Up
-- Promotion cost rules and customer segments (issue 9).

-- The per-redemption cost rule of each (experiment, variant), written by
-- the service whenever an experiment is created or changed
-- (experiments.ConversionCostOf). The rollups derive the cost of a
-- conversion that carries no promotion_cost and is an order (revenue > 0
-- or an order_id) as
--   (revenue / 10000) * percent_bp + ((revenue % 10000) * percent_bp + 5000) / 10000
--   + CASE WHEN capped THEN LEAST(amount, revenue) ELSE amount END.
CREATE TABLE promotion_costs (
	experiment TEXT NOT NULL,
	variant    TEXT NOT NULL,
	type       TEXT NOT NULL,
	value      DOUBLE PRECISION NOT NULL,
	unit_cost  BIGINT NOT NULL,
	cost_rule  TEXT NOT NULL,
	percent_bp BIGINT NOT NULL,
	amount     BIGINT NOT NULL,
	capped     BOOLEAN NOT NULL,
	PRIMARY KEY (experiment, variant)
);

-- Backfill the experiments that exist already (the service rewrites these
-- rows, computed in Go, on the next change of each experiment).
INSERT INTO promotion_costs (experiment, variant, type, value, unit_cost, cost_rule, percent_bp, amount, capped)
SELECT v.xkey, v.key, v.type, v.value, v.unit_cost, v.cost_rule,
	CASE WHEN v.cost_rule IN ('', 'per_redemption') AND v.type IN ('percent_off', 'cashback')
		THEN CAST(ROUND(CAST(v.value * 100 AS NUMERIC)) AS BIGINT) ELSE 0 END,
	CASE WHEN v.cost_rule NOT IN ('', 'per_redemption') THEN 0
		WHEN v.type = 'amount_off' THEN CAST(ROUND(CAST(v.value AS NUMERIC)) AS BIGINT)
		WHEN v.type IN ('free_shipping', 'bundle', 'free_trial') THEN v.unit_cost
		WHEN v.type = 'points' THEN CAST(ROUND(CAST(v.value * v.unit_cost AS NUMERIC)) AS BIGINT)
		ELSE 0 END,
	v.type = 'amount_off'
FROM (
	SELECT x.key AS xkey, j ->> 'key' AS key,
		COALESCE(j -> 'promotion' ->> 'type', 'none') AS type,
		COALESCE(CAST(j -> 'promotion' ->> 'value' AS DOUBLE PRECISION), 0) AS value,
		COALESCE(CAST(j -> 'promotion' ->> 'unit_cost' AS BIGINT), 0) AS unit_cost,
		COALESCE(j -> 'promotion' ->> 'cost_rule', '') AS cost_rule
	FROM experiments x, jsonb_array_elements(CAST(x.variants AS JSONB)) j
) v;

-- One row per customer (unit ID): the aggregates the RFM scores and the
-- AIPL stage are computed from (experiments.CustomerAggregate), kept up to
-- date by event ingest. NULL times mean never.
CREATE TABLE customer_aggregates (
	unit_id          TEXT PRIMARY KEY,
	last_purchase_at TIMESTAMPTZ,
	prev_purchase_at TIMESTAMPTZ,
	purchase_count   BIGINT NOT NULL DEFAULT 0,
	monetary         BIGINT NOT NULL DEFAULT 0,
	last_engaged_at  TIMESTAMPTZ,
	last_review_at   TIMESTAMPTZ,
	review_count     BIGINT NOT NULL DEFAULT 0,
	last_exposed_at  TIMESTAMPTZ
);
CREATE INDEX customer_aggregates_recency ON customer_aggregates (last_purchase_at) WHERE purchase_count > 0;
CREATE INDEX customer_aggregates_frequency ON customer_aggregates (purchase_count) WHERE purchase_count > 0;
CREATE INDEX customer_aggregates_monetary ON customer_aggregates (monetary) WHERE purchase_count > 0;

-- Backfill from the events stored so far.
INSERT INTO customer_aggregates (unit_id, last_purchase_at, prev_purchase_at, purchase_count, monetary,
	last_engaged_at, last_review_at, review_count, last_exposed_at)
SELECT u.unit_id,
	MAX(u.ts) FILTER (WHERE u.type = 'conversion' AND u.name = 'purchase'),
	(SELECT p.ts FROM events p WHERE p.unit_id = u.unit_id AND p.type = 'conversion' AND p.name = 'purchase'
		ORDER BY p.ts DESC LIMIT 1 OFFSET 1),
	COUNT(*) FILTER (WHERE u.type = 'conversion' AND u.name = 'purchase'),
	COALESCE(SUM(u.revenue) FILTER (WHERE u.type = 'conversion' AND u.name = 'purchase'), 0),
	MAX(u.ts) FILTER (WHERE u.type = 'conversion' AND u.name <> 'purchase'),
	MAX(u.ts) FILTER (WHERE u.type = 'conversion' AND u.name = 'review'),
	COUNT(*) FILTER (WHERE u.type = 'conversion' AND u.name = 'review'),
	MAX(u.ts) FILTER (WHERE u.type = 'exposure')
FROM events u
GROUP BY u.unit_id;
