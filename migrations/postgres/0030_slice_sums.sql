-- +goose Up
-- The per-slice sums of the report's statistics (issue 17;
-- experiments/sqlstore/slicesums.go): per experiment, variant, multiple
-- flag, UTC hour of the first exposure and channel, slice_units counts the
-- units of exposures_rollup and adds up their exposures, and slice_metrics
-- adds up, per conversion name and currency too, the unit_metrics rows
-- with conversions: their number, count, revenue and cost, and the sums of
-- count², revenue² and revenue × count. The overall statistics and the
-- breakdowns by channel, hour and hour × channel add these rows up instead
-- of reading every unit. Triggers keep both in every transaction that
-- writes the rollups (ingest, group commit, erasure, recomputation); the
-- shard of a trigger's writes is its backend's, so that concurrent ingest
-- transactions write different rows. Filled here from the rollups stored
-- so far.
CREATE TABLE slice_units (
	experiment TEXT NOT NULL,
	variant    TEXT NOT NULL,
	multiple   BOOLEAN NOT NULL,
	hour       TEXT NOT NULL,
	channel    TEXT NOT NULL,
	shard      INTEGER NOT NULL,
	units      BIGINT NOT NULL,
	exposures  BIGINT NOT NULL,
	PRIMARY KEY (experiment, variant, multiple, hour, channel, shard)
);

CREATE TABLE slice_metrics (
	experiment      TEXT NOT NULL,
	variant         TEXT NOT NULL,
	multiple        BOOLEAN NOT NULL,
	hour            TEXT NOT NULL,
	channel         TEXT NOT NULL,
	metric          TEXT NOT NULL,
	currency        TEXT NOT NULL,
	shard           INTEGER NOT NULL,
	converted       BIGINT NOT NULL,
	conversions     BIGINT NOT NULL,
	count_squares   NUMERIC NOT NULL,
	revenue         BIGINT NOT NULL,
	revenue_squares NUMERIC NOT NULL,
	revenue_count   NUMERIC NOT NULL,
	cost            BIGINT NOT NULL,
	PRIMARY KEY (experiment, variant, multiple, hour, channel, metric, currency, shard)
);

-- slice_hour is the hour slice of a first exposure (the report's
-- to_char(first_exposed_at AT TIME ZONE 'UTC', 'HH24'), '' when unknown).
-- +goose StatementBegin
CREATE FUNCTION slice_hour(first_exposed_at TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
	SELECT COALESCE(to_char(first_exposed_at AT TIME ZONE 'UTC', 'HH24'), '')
$$;
-- +goose StatementEnd

INSERT INTO slice_units (experiment, variant, multiple, hour, channel, shard, units, exposures)
SELECT experiment, first_variant, multiple, slice_hour(first_exposed_at), channel, 0, COUNT(*), SUM(exposures)
FROM exposures_rollup GROUP BY 1, 2, 3, 4, 5;

INSERT INTO slice_metrics (experiment, variant, multiple, hour, channel, metric, currency, shard, converted, conversions,
	count_squares, revenue, revenue_squares, revenue_count, cost)
SELECT experiment, variant, multiple, slice_hour(first_exposed_at), channel, metric, currency, 0, COUNT(*), SUM(conversions),
	SUM(CAST(conversions AS NUMERIC) * conversions), SUM(revenue), SUM(CAST(revenue AS NUMERIC) * revenue),
	SUM(CAST(revenue AS NUMERIC) * conversions), SUM(cost)
FROM unit_metrics WHERE conversions > 0 GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- slice_units_add adds sign times rows (exposures_rollup rows) to
-- slice_units, slice_metrics_add sign times the rows with conversions of
-- rows (unit_metrics rows) to slice_metrics, in the shard of this backend.
-- Keys are written in order, so that two transactions of one shard cannot
-- deadlock on them.
-- +goose StatementBegin
CREATE FUNCTION slice_units_add(rows exposures_rollup[], sign INTEGER) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO slice_units AS a (experiment, variant, multiple, hour, channel, shard, units, exposures)
	SELECT experiment, first_variant, multiple, slice_hour(first_exposed_at), channel, pg_backend_pid() % 64,
		sign * COUNT(*), sign * SUM(exposures)
	FROM unnest(rows) GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
	ON CONFLICT (experiment, variant, multiple, hour, channel, shard) DO UPDATE SET
		units = a.units + EXCLUDED.units, exposures = a.exposures + EXCLUDED.exposures;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION slice_metrics_add(rows unit_metrics[], sign INTEGER) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO slice_metrics AS a (experiment, variant, multiple, hour, channel, metric, currency, shard, converted,
		conversions, count_squares, revenue, revenue_squares, revenue_count, cost)
	SELECT experiment, variant, multiple, slice_hour(first_exposed_at), channel, metric, currency, pg_backend_pid() % 64,
		sign * COUNT(*), sign * SUM(conversions), sign * SUM(CAST(conversions AS NUMERIC) * conversions),
		sign * SUM(revenue), sign * SUM(CAST(revenue AS NUMERIC) * revenue),
		sign * SUM(CAST(revenue AS NUMERIC) * conversions), sign * SUM(cost)
	FROM unnest(rows) WHERE conversions > 0
	GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
	ON CONFLICT (experiment, variant, multiple, hour, channel, metric, currency, shard) DO UPDATE SET
		converted = a.converted + EXCLUDED.converted, conversions = a.conversions + EXCLUDED.conversions,
		count_squares = a.count_squares + EXCLUDED.count_squares, revenue = a.revenue + EXCLUDED.revenue,
		revenue_squares = a.revenue_squares + EXCLUDED.revenue_squares,
		revenue_count = a.revenue_count + EXCLUDED.revenue_count, cost = a.cost + EXCLUDED.cost;
END $$;
-- +goose StatementEnd

-- The triggers: statement-level, over the transition tables (one upsert
-- per statement, not per row). An update takes back the old rows and adds
-- the new ones; of exposures_rollup only the rows whose slice, flag or
-- exposures changed.
-- +goose StatementBegin
CREATE FUNCTION slice_units_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM slice_units_add(ARRAY(SELECT CAST(n AS exposures_rollup) FROM new_rows n), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION slice_units_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM slice_units_add(ARRAY(SELECT CAST(o AS exposures_rollup) FROM old_rows o), -1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION slice_units_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM slice_units_add(ARRAY(SELECT CAST(o AS exposures_rollup) FROM old_rows o JOIN new_rows n ON n.experiment = o.experiment
		AND n.unit_id = o.unit_id WHERE (n.first_variant, n.multiple, n.first_exposed_at, n.channel, n.exposures)
		IS DISTINCT FROM (o.first_variant, o.multiple, o.first_exposed_at, o.channel, o.exposures)), -1);
	PERFORM slice_units_add(ARRAY(SELECT CAST(n AS exposures_rollup) FROM old_rows o JOIN new_rows n ON n.experiment = o.experiment
		AND n.unit_id = o.unit_id WHERE (n.first_variant, n.multiple, n.first_exposed_at, n.channel, n.exposures)
		IS DISTINCT FROM (o.first_variant, o.multiple, o.first_exposed_at, o.channel, o.exposures)), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION slice_metrics_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM slice_metrics_add(ARRAY(SELECT CAST(n AS unit_metrics) FROM new_rows n), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION slice_metrics_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM slice_metrics_add(ARRAY(SELECT CAST(o AS unit_metrics) FROM old_rows o), -1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION slice_metrics_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM slice_metrics_add(ARRAY(SELECT CAST(o AS unit_metrics) FROM old_rows o), -1);
	PERFORM slice_metrics_add(ARRAY(SELECT CAST(n AS unit_metrics) FROM new_rows n), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER slice_units_inserted AFTER INSERT ON exposures_rollup
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION slice_units_inserted();
CREATE TRIGGER slice_units_deleted AFTER DELETE ON exposures_rollup
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION slice_units_deleted();
CREATE TRIGGER slice_units_updated AFTER UPDATE ON exposures_rollup
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION slice_units_updated();
CREATE TRIGGER slice_metrics_inserted AFTER INSERT ON unit_metrics
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION slice_metrics_inserted();
CREATE TRIGGER slice_metrics_deleted AFTER DELETE ON unit_metrics
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION slice_metrics_deleted();
CREATE TRIGGER slice_metrics_updated AFTER UPDATE ON unit_metrics
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION slice_metrics_updated();

