-- +goose Up
-- Events carry an environment (issue 22; docs/security.md, "Environments";
-- docs/report.md, "Which conversions count"): a conversion the environment
-- of the SDK key that sent it ('' for a key bound to none: it counts in
-- every environment), an exposure the environment of its experiment. A
-- conversion counts in an experiment's report only when its environment is
-- the experiment's or ''. Existing events get '' and keep counting as before.
--
-- An event id is unique within its environment: the same id sent by a
-- staging key and a production key is two events. SQLite cannot change a
-- table's primary key in place, so events is rebuilt with the key
-- (event_id, environment), keeping every rowid (the ingest and the events
-- marker read rows by rowid) and the indexes.
CREATE TABLE events_env (
	event_id       TEXT NOT NULL,
	environment    TEXT NOT NULL DEFAULT '',
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
	received_at    INTEGER NOT NULL,
	PRIMARY KEY (event_id, environment)
);
INSERT INTO events_env (rowid, event_id, environment, type, unit_id, ts, experiment, variant, name, revenue,
	promotion_cost, currency, order_id, channel, attributes, received_at)
SELECT rowid, event_id, '', type, unit_id, ts, experiment, variant, name, revenue,
	promotion_cost, currency, order_id, channel, attributes, received_at
FROM events ORDER BY rowid;
DROP TABLE events;
ALTER TABLE events_env RENAME TO events;
CREATE INDEX events_exposures ON events (experiment, unit_id, ts) WHERE type = 'exposure';
CREATE INDEX events_conversions ON events (unit_id, ts) WHERE type = 'conversion';
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_unit ON events (unit_id);
