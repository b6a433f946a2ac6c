-- +goose Up
-- promolift schema for SQLite. Timestamps are INTEGER unix microseconds
-- (UTC); money is INTEGER minor units; JSON documents are TEXT.

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
	sticky                     INTEGER NOT NULL,
	coverage                   REAL NOT NULL,
	variants                   TEXT NOT NULL CHECK (json_valid(variants)),
	namespace                  TEXT CHECK (namespace IS NULL OR json_valid(namespace)),
	layer                      TEXT NOT NULL DEFAULT '',
	condition                  TEXT CHECK (condition IS NULL OR json_valid(condition)),
	primary_metric             TEXT NOT NULL DEFAULT '',
	secondary_metrics          TEXT NOT NULL CHECK (json_valid(secondary_metrics)),
	guardrail_metrics          TEXT NOT NULL CHECK (json_valid(guardrail_metrics)),
	attribution_window_us      INTEGER NOT NULL CHECK (attribution_window_us > 0),
	segments                   TEXT NOT NULL CHECK (json_valid(segments)),
	personalization            INTEGER NOT NULL,
	engine                     TEXT NOT NULL,
	sequential_tuning          INTEGER NOT NULL,
	cap_group                  TEXT NOT NULL DEFAULT '',
	min_roi                    REAL NOT NULL,
	started_at                 INTEGER,
	ended_at                   INTEGER,
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL,
	revision                   INTEGER NOT NULL
);
CREATE INDEX experiments_environment ON experiments (environment, status);

CREATE TABLE flags (
	key             TEXT PRIMARY KEY,
	description     TEXT NOT NULL DEFAULT '',
	environment     TEXT NOT NULL,
	type            TEXT NOT NULL CHECK (type IN ('boolean', 'string', 'number', 'object')),
	variants        TEXT NOT NULL CHECK (json_valid(variants)),
	default_variant TEXT NOT NULL,
	enabled         INTEGER NOT NULL,
	rules           TEXT NOT NULL CHECK (json_valid(rules)),
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	revision        INTEGER NOT NULL
);
CREATE INDEX flags_environment ON flags (environment);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	scope        TEXT NOT NULL CHECK (scope IN ('admin', 'sdk', 'analyst')),
	environment  TEXT NOT NULL DEFAULT '',
	salt         BLOB NOT NULL,
	hash         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
);

CREATE TABLE audit_log (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	at       INTEGER NOT NULL,
	key_id   TEXT NOT NULL DEFAULT '',
	action   TEXT NOT NULL,
	resource TEXT NOT NULL,
	before   TEXT,
	after    TEXT
);

-- Raw events, stored once per event_id.
CREATE TABLE events (
	event_id       TEXT PRIMARY KEY,
	type           TEXT NOT NULL CHECK (type IN ('exposure', 'conversion')),
	unit_id        TEXT NOT NULL,
	ts             INTEGER NOT NULL,
	experiment     TEXT,
	variant        TEXT,
	name           TEXT,
	revenue        INTEGER NOT NULL DEFAULT 0,
	promotion_cost INTEGER,
	currency       TEXT NOT NULL DEFAULT '',
	order_id       TEXT NOT NULL DEFAULT '',
	channel        TEXT NOT NULL DEFAULT '',
	attributes     TEXT CHECK (attributes IS NULL OR json_valid(attributes)),
	received_at    INTEGER NOT NULL
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
	first_exposed_at INTEGER NOT NULL,
	exposures        INTEGER NOT NULL,
	multiple         INTEGER NOT NULL,
	attributes       TEXT,
	channel          TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (experiment, unit_id)
);
CREATE INDEX exposures_rollup_unit ON exposures_rollup (unit_id);

-- Attributed conversions per (experiment, unit, conversion name).
CREATE TABLE unit_metrics (
	experiment  TEXT NOT NULL,
	unit_id     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	conversions INTEGER NOT NULL,
	revenue     INTEGER NOT NULL,
	cost        INTEGER NOT NULL,
	PRIMARY KEY (experiment, unit_id, metric)
);
