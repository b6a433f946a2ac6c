-- +goose Up
-- Rollups maintained incrementally at ingest (issue 5).
--
-- exposures_rollup.first_event_id breaks ties between exposures at the same
-- instant, so that a new exposure can be compared with the stored first
-- one without reading the raw events: the first exposure is the least
-- (ts, event_id).
--
-- unit_metrics.variant, multiple, channel and first_exposed_at copy the
-- unit's first_variant, multiple, channel and first exposure time from
-- exposures_rollup, so that the per-variant metric sums (also by channel
-- and by hour of first exposure) read one table instead of joining a row
-- per unit. They are rewritten whenever the unit's exposures change.
ALTER TABLE exposures_rollup ADD COLUMN first_event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE unit_metrics ADD COLUMN variant TEXT NOT NULL DEFAULT '';
ALTER TABLE unit_metrics ADD COLUMN multiple BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE unit_metrics ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE unit_metrics ADD COLUMN first_exposed_at TIMESTAMPTZ;

UPDATE exposures_rollup r SET first_event_id = f.event_id
FROM (
	SELECT DISTINCT ON (experiment, unit_id) experiment, unit_id, event_id
	FROM events WHERE type = 'exposure'
	ORDER BY experiment, unit_id, ts, event_id
) f
WHERE f.experiment = r.experiment AND f.unit_id = r.unit_id;

UPDATE unit_metrics m SET variant = r.first_variant, multiple = r.multiple, channel = r.channel,
	first_exposed_at = r.first_exposed_at
FROM exposures_rollup r
WHERE r.experiment = m.experiment AND r.unit_id = m.unit_id;
-- Every unit_metrics row has its exposures_rollup row (both are written
-- together); this only guards against a damaged database.
DELETE FROM unit_metrics WHERE first_exposed_at IS NULL;
ALTER TABLE unit_metrics ALTER COLUMN first_exposed_at SET NOT NULL;
