-- Rollups maintained incrementally at ingest (issue 5).
--
-- exposures_rollup.first_event_id breaks ties between exposures at the same
-- instant, so that a new exposure can be compared with the stored first
-- one without reading the raw events: the first exposure is the least
-- (ts, event_id).
--
-- unit_metrics.variant and unit_metrics.multiple copy the unit's
-- first_variant and multiple from exposures_rollup, so that the
-- per-variant metric sums read one table instead of joining a row per
-- unit. Both are rewritten whenever the unit's exposures change.
ALTER TABLE exposures_rollup ADD COLUMN first_event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE unit_metrics ADD COLUMN variant TEXT NOT NULL DEFAULT '';
ALTER TABLE unit_metrics ADD COLUMN multiple BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE exposures_rollup r SET first_event_id = f.event_id
FROM (
	SELECT DISTINCT ON (experiment, unit_id) experiment, unit_id, event_id
	FROM events WHERE type = 'exposure'
	ORDER BY experiment, unit_id, ts, event_id
) f
WHERE f.experiment = r.experiment AND f.unit_id = r.unit_id;

UPDATE unit_metrics m SET variant = r.first_variant, multiple = r.multiple
FROM exposures_rollup r
WHERE r.experiment = m.experiment AND r.unit_id = m.unit_id;
