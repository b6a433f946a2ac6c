-- +goose Up
-- The update triggers of series_units (0029) and slice_units (0030) on
-- exposures_rollup without a join of the old and the new rows. Most
-- updates of exposures_rollup are a later exposure of a stored unit (its
-- exposure count moves, nothing else); the triggers paired each old row
-- with its new one to find the rows whose first exposure or slice moved,
-- a join of two transition tables that the planner, without statistics on
-- them, ran as a nested loop: 27-29 ms each for a batch of 1,000 units
-- (pg_stat_user_functions). Instead each takes back every old row and adds
-- every new one in a single grouped upsert: the rows that did not move
-- cancel within their key, and the keys whose net change is zero are not
-- written. The sums are the same.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION series_units_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO series_units AS a (experiment, variant, day, shard, units)
	SELECT experiment, variant, day, pg_backend_pid() % 64, SUM(units)
	FROM (SELECT experiment, first_variant AS variant,
			CAST(first_exposed_at AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01' AS day, -1 AS units FROM old_rows
		UNION ALL
		SELECT experiment, first_variant, CAST(first_exposed_at AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01', 1
		FROM new_rows) c
	GROUP BY experiment, day, variant HAVING SUM(units) <> 0
	ORDER BY experiment, day, variant
	ON CONFLICT (experiment, day, variant, shard) DO UPDATE SET units = a.units + EXCLUDED.units;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION slice_units_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO slice_units AS a (experiment, variant, multiple, hour, channel, shard, units, exposures)
	SELECT experiment, variant, multiple, hour, channel, pg_backend_pid() % 64, SUM(units), SUM(exposures)
	FROM (SELECT experiment, first_variant AS variant, multiple, slice_hour(first_exposed_at) AS hour, channel,
			-1 AS units, -exposures AS exposures FROM old_rows
		UNION ALL
		SELECT experiment, first_variant, multiple, slice_hour(first_exposed_at), channel, 1, exposures FROM new_rows) c
	GROUP BY experiment, variant, multiple, hour, channel HAVING SUM(units) <> 0 OR SUM(exposures) <> 0
	ORDER BY experiment, variant, multiple, hour, channel
	ON CONFLICT (experiment, variant, multiple, hour, channel, shard) DO UPDATE SET
		units = a.units + EXCLUDED.units, exposures = a.exposures + EXCLUDED.exposures;
	RETURN NULL;
END $$;
-- +goose StatementEnd
