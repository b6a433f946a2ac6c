-- +goose Up
-- Customers' rights (DESIGN.md §3): consent, frequency caps across
-- experiments, promotion budgets, erasure. Every per-customer row keys the
-- customer in a column named unit_id, which is what erasure deletes by.

-- A customer's promotion consent; no row means consent (opt-out model).
CREATE TABLE customer_consent (
	unit_id    TEXT PRIMARY KEY,
	promotions BOOLEAN NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

-- Frequency cap groups: at most max_exposures promotion exposures per
-- customer within window_us across the experiments naming the group.
CREATE TABLE cap_groups (
	name          TEXT PRIMARY KEY,
	max_exposures INTEGER NOT NULL CHECK (max_exposures > 0),
	window_us     BIGINT NOT NULL CHECK (window_us > 0),
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL
);

-- Units that were refused a promotion by a frequency cap, per experiment.
CREATE TABLE capped_units (
	experiment TEXT NOT NULL,
	unit_id    TEXT NOT NULL,
	first_at   TIMESTAMPTZ NOT NULL,
	last_at    TIMESTAMPTZ NOT NULL,
	times      BIGINT NOT NULL,
	PRIMARY KEY (experiment, unit_id)
);
CREATE INDEX capped_units_unit ON capped_units (unit_id);

-- Promotion cost of erased customers, kept (without them) so that a
-- variant's spend against its budget does not shrink on erasure.
CREATE TABLE erased_spend (
	experiment TEXT NOT NULL,
	variant    TEXT NOT NULL,
	cost       BIGINT NOT NULL,
	PRIMARY KEY (experiment, variant)
);

-- The installation's secret key for hashing customer IDs in the audit log.
CREATE TABLE customer_secret (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	secret BYTEA NOT NULL
);

CREATE INDEX events_unit ON events (unit_id);
