-- +goose Up
-- Customer aggregates per environment (issue 22; docs/security.md,
-- "Environments"): one row per (customer, environment), the environment
-- being the events' (an SDK key's for a conversion, the experiment's for an
-- exposure; '' for a key bound to none). Targeting and segments in an
-- environment read its own row merged with the '' row, and RFM boundaries
-- are computed over those merged rows, so a staging key's purchase never
-- moves a production customer's segment. Existing rows become environment
-- ''. SQLite cannot change a primary key in place: the table is rebuilt,
-- without the single-column partial indexes (the boundaries now group a
-- customer's rows, sqlstore.RFMBoundaries; those indexes served no query).
CREATE TABLE customer_aggregates_env (
	unit_id          TEXT NOT NULL,
	environment      TEXT NOT NULL DEFAULT '',
	last_purchase_at INTEGER,
	prev_purchase_at INTEGER,
	purchase_count   INTEGER NOT NULL DEFAULT 0,
	monetary         INTEGER NOT NULL DEFAULT 0,
	last_engaged_at  INTEGER,
	last_review_at   INTEGER,
	review_count     INTEGER NOT NULL DEFAULT 0,
	last_exposed_at  INTEGER,
	PRIMARY KEY (unit_id, environment)
);
INSERT INTO customer_aggregates_env (unit_id, environment, last_purchase_at, prev_purchase_at, purchase_count,
	monetary, last_engaged_at, last_review_at, review_count, last_exposed_at)
SELECT unit_id, '', last_purchase_at, prev_purchase_at, purchase_count,
	monetary, last_engaged_at, last_review_at, review_count, last_exposed_at
FROM customer_aggregates;
DROP TABLE customer_aggregates;
ALTER TABLE customer_aggregates_env RENAME TO customer_aggregates;
