-- +goose Up
-- promolift schema for PostgreSQL. Timestamps are timestamptz; money is
-- BIGINT minor units; JSON documents are jsonb (json where the exact text
-- matters).

CREATE TABLE experiments (
	key                        TEXT PRIMARY KEY,
	name                       TEXT NOT NULL,
	hypothesis                 TEXT NOT NULL DEFAULT '',
	owner                      TEXT NOT NULL DEFAULT '',
	environment                TEXT NOT NULL,
	status                     TEXT NOT NULL CHECK (status IN ('draft', 'running', 'paused', 'stopped', 'archived')),
	unit_attribute             TEXT NOT NULL,
	fallback_attribute         TEXT NOT NULL DEFAULT '',
	seed                       TEXT NOT NULL,
	hash_version               INTEGER NOT NULL,
	bucket_version             INTEGER NOT NULL,
	min_bucket_version         INTEGER NOT NULL,
	sticky                     BOOLEAN NOT NULL,
	coverage                   DOUBLE PRECISION NOT NULL,
	variants                   JSONB NOT NULL,
	namespace                  JSONB,
	layer                      TEXT NOT NULL DEFAULT '',
	condition                  JSONB,
	primary_metric             TEXT NOT NULL DEFAULT '',
	secondary_metrics          JSONB NOT NULL,
	guardrail_metrics          JSONB NOT NULL,
	attribution_window_us      BIGINT NOT NULL CHECK (attribution_window_us > 0),
	segments                   JSONB NOT NULL,
	personalization            BOOLEAN NOT NULL,
	engine                     TEXT NOT NULL,
	sequential_tuning          INTEGER NOT NULL,
	cap_group                  TEXT NOT NULL DEFAULT '',
	min_roi                    DOUBLE PRECISION NOT NULL,
	started_at                 TIMESTAMPTZ,
	ended_at                   TIMESTAMPTZ,
	created_at                 TIMESTAMPTZ NOT NULL,
	updated_at                 TIMESTAMPTZ NOT NULL,
	revision                   BIGINT NOT NULL
);
CREATE INDEX experiments_environment ON experiments (environment, status);

CREATE TABLE flags (
	key             TEXT PRIMARY KEY,
	description     TEXT NOT NULL DEFAULT '',
	environment     TEXT NOT NULL,
	type            TEXT NOT NULL CHECK (type IN ('boolean', 'string', 'number', 'object')),
	variants        JSONB NOT NULL,
	default_variant TEXT NOT NULL,
	enabled         BOOLEAN NOT NULL,
	rules           JSONB NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL,
	revision        BIGINT NOT NULL
);
CREATE INDEX flags_environment ON flags (environment);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	scope        TEXT NOT NULL CHECK (scope IN ('admin', 'sdk', 'analyst')),
	environment  TEXT NOT NULL DEFAULT '',
	salt         BYTEA NOT NULL,
	hash         BYTEA NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	last_used_at TIMESTAMPTZ,
	revoked_at   TIMESTAMPTZ
);

CREATE TABLE audit_log (
	id       BIGSERIAL PRIMARY KEY,
	at       TIMESTAMPTZ NOT NULL,
	key_id   TEXT NOT NULL DEFAULT '',
	action   TEXT NOT NULL,
	resource TEXT NOT NULL,
	before   JSON,
	after    JSON
);

-- Raw events, stored once per event_id.
CREATE TABLE events (
	event_id       TEXT PRIMARY KEY,
	type           TEXT NOT NULL CHECK (type IN ('exposure', 'conversion')),
	unit_id        TEXT NOT NULL,
	ts             TIMESTAMPTZ NOT NULL,
	experiment     TEXT,
	variant        TEXT,
	name           TEXT,
	revenue        BIGINT NOT NULL DEFAULT 0,
	promotion_cost BIGINT,
	currency       TEXT NOT NULL DEFAULT '',
	order_id       TEXT NOT NULL DEFAULT '',
	channel        TEXT NOT NULL DEFAULT '',
	attributes     JSONB,
	received_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_exposures ON events (experiment, unit_id, ts) WHERE type = 'exposure';
CREATE INDEX events_conversions ON events (unit_id, ts) WHERE type = 'conversion';
CREATE INDEX events_ts ON events (ts);

-- One row per (experiment, unit): the unit's first exposure and whether it
-- was seen in more than one variant.
CREATE TABLE exposures_rollup (
	experiment       TEXT NOT NULL,
	unit_id          TEXT NOT NULL,
	first_variant    TEXT NOT NULL,
	first_exposed_at TIMESTAMPTZ NOT NULL,
	exposures        BIGINT NOT NULL,
	multiple         BOOLEAN NOT NULL,
	attributes       JSONB,
	channel          TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (experiment, unit_id)
);
CREATE INDEX exposures_rollup_unit ON exposures_rollup (unit_id);

-- Attributed conversions per (experiment, unit, conversion name).
CREATE TABLE unit_metrics (
	experiment  TEXT NOT NULL,
	unit_id     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	conversions BIGINT NOT NULL,
	revenue     BIGINT NOT NULL,
	cost        BIGINT NOT NULL,
	PRIMARY KEY (experiment, unit_id, metric)
);
