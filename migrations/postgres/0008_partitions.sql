-- +goose Up
-- The raw events table becomes partitioned by month of ts (native range
-- partitioning), so that old months can be dropped whole (retention).
--
-- A unique key of a partitioned table must contain the partition key, so
-- event_id alone can no longer be the primary key of events. The
-- exactly-once check moves to event_ids, an unpartitioned table the ingest
-- merge inserts into first (ON CONFLICT (event_id) DO NOTHING); only the
-- ids it accepts go on into events. ts is kept for retention.
--
-- Partitions are named events_pYYYY_MM and cover one calendar month in UTC.
-- The store creates missing ones on demand before an ingest
-- (Store.EnsureEventPartitions). There is no DEFAULT partition: rows of
-- month M in a default partition would block creating partition M later.
--
-- Names are unqualified: the migration works in whatever schema is first
-- on the search_path.

CREATE TABLE event_ids (
	event_id TEXT PRIMARY KEY,
	ts       TIMESTAMPTZ NOT NULL
);

-- The retention horizon: no events before it are kept, and none older are
-- accepted any more (they would no longer be recognized as duplicates).
-- At most one row; none until the first retention run.
CREATE TABLE event_retention (
	id         BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
	horizon    TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER INDEX events_pkey RENAME TO events_unpartitioned_pkey;
DROP INDEX IF EXISTS events_exposures;
DROP INDEX IF EXISTS events_conversions;
DROP INDEX IF EXISTS events_ts;
DROP INDEX IF EXISTS events_unit;

CREATE TABLE events (
	event_id       TEXT NOT NULL,
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
) PARTITION BY RANGE (ts);

-- One partition per month present in the old table. The bounds are
-- computed on UTC timestamps, independent of the session's TimeZone.
-- +goose StatementBegin
DO $$
DECLARE
	m TIMESTAMP;
BEGIN
	FOR m IN SELECT DISTINCT date_trunc('month', ts AT TIME ZONE 'UTC') FROM events_unpartitioned ORDER BY 1 LOOP
		EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
			'events_p' || to_char(m, 'YYYY_MM'),
			to_char(m, 'YYYY-MM-DD HH24:MI:SS') || '+00',
			to_char(m + INTERVAL '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
	END LOOP;
END
$$;
-- +goose StatementEnd

INSERT INTO events (event_id, type, unit_id, ts, experiment, variant, name, revenue, promotion_cost, currency,
	order_id, channel, attributes, received_at)
SELECT event_id, type, unit_id, ts, experiment, variant, name, revenue, promotion_cost, currency,
	order_id, channel, attributes, received_at
FROM events_unpartitioned;

INSERT INTO event_ids (event_id, ts) SELECT event_id, ts FROM events_unpartitioned;

DROP TABLE events_unpartitioned;

-- The indexes are built after the copy (faster than maintaining them row by
-- row); each partition gets its own, and partitions created later inherit
-- them. ts is indexed with BRIN: events arrive roughly in time order, and
-- range scans by time (retention, Until, the daily series) are all BRIN
-- needs, at a fraction of a btree's maintenance cost.
CREATE INDEX events_exposures ON events (experiment, unit_id, ts) WHERE type = 'exposure';
CREATE INDEX events_conversions ON events (unit_id, ts) WHERE type = 'conversion';
CREATE INDEX events_unit ON events (unit_id);
CREATE INDEX events_ts ON events USING BRIN (ts);
CREATE INDEX event_ids_ts ON event_ids USING BRIN (ts);

ANALYZE events;
ANALYZE event_ids;
