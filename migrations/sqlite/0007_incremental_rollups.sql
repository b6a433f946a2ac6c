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
ALTER TABLE unit_metrics ADD COLUMN multiple INTEGER NOT NULL DEFAULT 0;
ALTER TABLE unit_metrics ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE unit_metrics ADD COLUMN first_exposed_at INTEGER NOT NULL DEFAULT 0;

UPDATE exposures_rollup SET first_event_id = COALESCE((
	SELECT e.event_id FROM events e
	WHERE e.type = 'exposure' AND e.experiment = exposures_rollup.experiment AND e.unit_id = exposures_rollup.unit_id
	ORDER BY e.ts, e.event_id LIMIT 1), '');

UPDATE unit_metrics SET
	variant = COALESCE((SELECT r.first_variant FROM exposures_rollup r
		WHERE r.experiment = unit_metrics.experiment AND r.unit_id = unit_metrics.unit_id), ''),
	multiple = COALESCE((SELECT r.multiple FROM exposures_rollup r
		WHERE r.experiment = unit_metrics.experiment AND r.unit_id = unit_metrics.unit_id), 0),
	channel = COALESCE((SELECT r.channel FROM exposures_rollup r
		WHERE r.experiment = unit_metrics.experiment AND r.unit_id = unit_metrics.unit_id), ''),
	first_exposed_at = COALESCE((SELECT r.first_exposed_at FROM exposures_rollup r
		WHERE r.experiment = unit_metrics.experiment AND r.unit_id = unit_metrics.unit_id), 0);
