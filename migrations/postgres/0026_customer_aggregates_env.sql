-- +goose Up
-- Customer aggregates per environment (issue 22; docs/security.md,
-- "Environments"): one row per (customer, environment), the environment
-- being the events' (an SDK key's for a conversion, the experiment's for an
-- exposure; '' for a key bound to none). Targeting and segments in an
-- environment read its own row merged with the '' row, and RFM boundaries
-- are computed over those merged rows, so a staging key's purchase never
-- moves a production customer's segment. Existing rows become environment
-- '' (they count in every environment, as the events they came from).
ALTER TABLE customer_aggregates ADD COLUMN environment TEXT NOT NULL DEFAULT '';
ALTER TABLE customer_aggregates DROP CONSTRAINT customer_aggregates_pkey;
ALTER TABLE customer_aggregates ADD PRIMARY KEY (unit_id, environment);
-- The boundaries now group a customer's rows (sqlstore.RFMBoundaries): the
-- single-column partial indexes serve no query any more and only cost
-- every ingest a write.
DROP INDEX customer_aggregates_recency;
DROP INDEX customer_aggregates_frequency;
DROP INDEX customer_aggregates_monetary;
