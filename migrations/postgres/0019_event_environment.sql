-- +goose Up
-- Events carry an environment (issue 22; docs/security.md, "Environments";
-- docs/report.md, "Which conversions count"): a conversion the environment
-- of the SDK key that sent it ('' for a key bound to none: it counts in
-- every environment), an exposure the environment of its experiment. A
-- conversion counts in an experiment's report only when its environment is
-- the experiment's or ''. Existing events get '' and keep counting as before.
--
-- A column with a constant default is a change of the catalog only (no
-- rewrite of events or of its partitions).
ALTER TABLE events ADD COLUMN environment TEXT NOT NULL DEFAULT '';

-- An event id is unique within its environment: the same id sent by a
-- staging key and a production key is two events. The ids of environment
-- '' stay in event_ids (with every id stored so far); those of the other
-- environments go here. A second table instead of a new key on event_ids,
-- whose index build would hold up every ingest for as long as it reads the
-- whole table.
CREATE TABLE event_ids_env (
	event_id    TEXT NOT NULL,
	environment TEXT NOT NULL CHECK (environment <> ''),
	ts          TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (event_id, environment)
);
CREATE INDEX event_ids_env_ts ON event_ids_env USING BRIN (ts);
