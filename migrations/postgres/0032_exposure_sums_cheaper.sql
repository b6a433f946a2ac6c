-- +goose Up
-- The sums' triggers on exposures_rollup cost less per exposure.
--
-- slice_hour is inlined into the statements that call it: its body was
-- to_char, a STABLE function, which keeps PostgreSQL from inlining a
-- function declared IMMUTABLE, so every row of every upsert into
-- slice_units ran it as a query of its own. The same text from IMMUTABLE
-- functions ('00' to '23', '' for NULL).
--
-- The triggers of exposures_rollup return at once when their transition
-- table is empty: the upsert of an exposure batch fires both the insert
-- and the update triggers of the statement, and a batch of new units only
-- (or of later exposures only) left one of the two building and running
-- an empty grouped upsert.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION slice_hour(first_exposed_at TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
	SELECT COALESCE(lpad(CAST(CAST(EXTRACT(HOUR FROM first_exposed_at AT TIME ZONE 'UTC') AS INTEGER) AS TEXT), 2, '0'), '')
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION series_units_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows) THEN
		PERFORM series_units_add(ARRAY(SELECT CAST(n AS exposures_rollup) FROM new_rows n), 1);
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION slice_units_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows) THEN
		PERFORM slice_units_add(ARRAY(SELECT CAST(n AS exposures_rollup) FROM new_rows n), 1);
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION series_units_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM new_rows) THEN
		RETURN NULL;
	END IF;
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
	IF NOT EXISTS (SELECT FROM new_rows) THEN
		RETURN NULL;
	END IF;
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
