-- +goose Up
-- Promotion cost rules and customer segments (issue 9).

-- The per-redemption cost rule of each (experiment, variant), written by
-- the service whenever an experiment is created or changed
-- (experiments.ConversionCostOf). The rollups derive the cost of a
-- conversion that carries no promotion_cost and is an order (revenue > 0
-- or an order_id) as
--   (revenue / 10000) * percent_bp + ((revenue % 10000) * percent_bp + 5000) / 10000
--   + CASE WHEN capped THEN MIN(amount, revenue) ELSE amount END.
CREATE TABLE promotion_costs (
	experiment TEXT NOT NULL,
	variant    TEXT NOT NULL,
	type       TEXT NOT NULL,
	value      REAL NOT NULL,
	unit_cost  INTEGER NOT NULL,
	cost_rule  TEXT NOT NULL,
	percent_bp INTEGER NOT NULL,
	amount     INTEGER NOT NULL,
	capped     INTEGER NOT NULL,
	PRIMARY KEY (experiment, variant)
);

-- Backfill the experiments that exist already (the service rewrites these
-- rows, computed in Go, on the next change of each experiment).
INSERT INTO promotion_costs (experiment, variant, type, value, unit_cost, cost_rule, percent_bp, amount, capped)
SELECT v.xkey, v.key, v.type, v.value, v.unit_cost, v.cost_rule,
	CASE WHEN v.cost_rule IN ('', 'per_redemption') AND v.type IN ('percent_off', 'cashback')
		THEN CAST(ROUND(v.value * 100) AS INTEGER) ELSE 0 END,
	CASE WHEN v.cost_rule NOT IN ('', 'per_redemption') THEN 0
		WHEN v.type = 'amount_off' THEN CAST(ROUND(v.value) AS INTEGER)
		WHEN v.type IN ('free_shipping', 'bundle', 'free_trial') THEN v.unit_cost
		WHEN v.type = 'points' THEN CAST(ROUND(v.value * v.unit_cost) AS INTEGER)
		ELSE 0 END,
	v.type = 'amount_off'
FROM (
	SELECT x.key AS xkey, json_extract(j.value, '$.key') AS key,
		COALESCE(json_extract(j.value, '$.promotion.type'), 'none') AS type,
		COALESCE(json_extract(j.value, '$.promotion.value'), 0) AS value,
		COALESCE(json_extract(j.value, '$.promotion.unit_cost'), 0) AS unit_cost,
		COALESCE(json_extract(j.value, '$.promotion.cost_rule'), '') AS cost_rule
	FROM experiments x, json_each(x.variants) j
) v;

-- One row per customer (unit ID): the aggregates the RFM scores and the
-- AIPL stage are computed from (experiments.CustomerAggregate), kept up to
-- date by event ingest. Timestamps are unix microseconds, NULL for never.
CREATE TABLE customer_aggregates (
	unit_id          TEXT PRIMARY KEY,
	last_purchase_at INTEGER,
	prev_purchase_at INTEGER,
	purchase_count   INTEGER NOT NULL DEFAULT 0,
	monetary         INTEGER NOT NULL DEFAULT 0,
	last_engaged_at  INTEGER,
	last_review_at   INTEGER,
	review_count     INTEGER NOT NULL DEFAULT 0,
	last_exposed_at  INTEGER
);
CREATE INDEX customer_aggregates_recency ON customer_aggregates (last_purchase_at) WHERE purchase_count > 0;
CREATE INDEX customer_aggregates_frequency ON customer_aggregates (purchase_count) WHERE purchase_count > 0;
CREATE INDEX customer_aggregates_monetary ON customer_aggregates (monetary) WHERE purchase_count > 0;

-- Backfill from the events stored so far.
INSERT INTO customer_aggregates (unit_id, last_purchase_at, prev_purchase_at, purchase_count, monetary,
	last_engaged_at, last_review_at, review_count, last_exposed_at)
SELECT u.unit_id,
	MAX(CASE WHEN u.type = 'conversion' AND u.name = 'purchase' THEN u.ts END),
	(SELECT p.ts FROM events p WHERE p.unit_id = u.unit_id AND p.type = 'conversion' AND p.name = 'purchase'
		ORDER BY p.ts DESC LIMIT 1 OFFSET 1),
	SUM(CASE WHEN u.type = 'conversion' AND u.name = 'purchase' THEN 1 ELSE 0 END),
	SUM(CASE WHEN u.type = 'conversion' AND u.name = 'purchase' THEN u.revenue ELSE 0 END),
	MAX(CASE WHEN u.type = 'conversion' AND u.name <> 'purchase' THEN u.ts END),
	MAX(CASE WHEN u.type = 'conversion' AND u.name = 'review' THEN u.ts END),
	SUM(CASE WHEN u.type = 'conversion' AND u.name = 'review' THEN 1 ELSE 0 END),
	MAX(CASE WHEN u.type = 'exposure' THEN u.ts END)
FROM events u
GROUP BY u.unit_id;
