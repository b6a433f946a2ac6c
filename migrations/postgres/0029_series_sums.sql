-- +goose Up
-- The per-day sums of the daily series (issue 17;
-- experiments/sqlstore/seriessums.go). Each unit_metrics_daily row gets
-- the unit's running count and revenue before its day, so that the
-- changes it brings to the series' sums and sums of squares are its own;
-- series_metrics adds them up per (experiment, variant, metric, day)
-- over the units that are not multiple-exposed, series_units counts the
-- units first exposed per (experiment, variant, day). Triggers keep both
-- in every transaction that writes the rollups (ingest, group commit,
-- erasure, recomputation); the shard of a trigger's writes is its
-- backend's, so that concurrent ingest transactions write different rows.
-- Filled here from the rollups stored so far.
ALTER TABLE unit_metrics_daily ADD COLUMN prev_conversions BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN prev_revenue BIGINT NOT NULL DEFAULT 0;

UPDATE unit_metrics_daily m SET prev_conversions = w.pc, prev_revenue = w.pr FROM (
	SELECT experiment, unit_id, metric, day,
		SUM(conversions) OVER k - conversions AS pc, SUM(revenue) OVER k - revenue AS pr
	FROM unit_metrics_daily WINDOW k AS (PARTITION BY experiment, unit_id, metric ORDER BY day)
) w
WHERE m.experiment = w.experiment AND m.unit_id = w.unit_id AND m.metric = w.metric AND m.day = w.day
	AND (w.pc <> 0 OR w.pr <> 0);

-- The series reads the multiple-exposed units' rows apart (few of them).
CREATE INDEX unit_metrics_daily_multiple ON unit_metrics_daily (experiment) WHERE multiple;
CREATE INDEX exposures_rollup_multiple ON exposures_rollup (experiment) WHERE multiple;

CREATE TABLE series_metrics (
	experiment      TEXT NOT NULL,
	day             INTEGER NOT NULL,
	variant         TEXT NOT NULL,
	metric          TEXT NOT NULL,
	shard           INTEGER NOT NULL,
	converted       BIGINT NOT NULL,
	conversions     BIGINT NOT NULL,
	count_squares   BIGINT NOT NULL,
	revenue         BIGINT NOT NULL,
	revenue_squares NUMERIC NOT NULL,
	revenue_count   NUMERIC NOT NULL,
	cost            BIGINT NOT NULL,
	PRIMARY KEY (experiment, day, variant, metric, shard)
);

CREATE TABLE series_units (
	experiment TEXT NOT NULL,
	day        INTEGER NOT NULL,
	variant    TEXT NOT NULL,
	shard      INTEGER NOT NULL,
	units      BIGINT NOT NULL,
	PRIMARY KEY (experiment, day, variant, shard)
);

INSERT INTO series_metrics (experiment, variant, metric, day, shard, converted, conversions, count_squares, revenue,
	revenue_squares, revenue_count, cost)
SELECT experiment, variant, metric, day, 0,
	SUM(CASE WHEN prev_conversions = 0 THEN 1 ELSE 0 END),
	SUM(conversions),
	SUM(conversions * (2 * prev_conversions + conversions)),
	SUM(revenue),
	SUM(CAST(revenue AS NUMERIC) * (2 * prev_revenue + revenue)),
	SUM(CAST(prev_revenue + revenue AS NUMERIC) * (prev_conversions + conversions) - CAST(prev_revenue AS NUMERIC) * prev_conversions),
	SUM(cost)
FROM unit_metrics_daily WHERE NOT multiple GROUP BY experiment, variant, metric, day;

INSERT INTO series_units (experiment, variant, day, shard, units)
SELECT experiment, first_variant, CAST(first_exposed_at AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01', 0, COUNT(*)
FROM exposures_rollup GROUP BY 1, 2, 3;

-- series_metrics_add adds sign times the contributions of rows
-- (unit_metrics_daily rows, none multiple) to series_metrics, in the
-- shard of this backend; series_units_add adds sign times the units of
-- rows (exposures_rollup rows) to series_units. Keys are written in
-- order, so that two transactions of one shard cannot deadlock on them.
-- +goose StatementBegin
CREATE FUNCTION series_metrics_add(rows unit_metrics_daily[], sign INTEGER) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO series_metrics AS a (experiment, variant, metric, day, shard, converted, conversions, count_squares, revenue,
		revenue_squares, revenue_count, cost)
	SELECT experiment, variant, metric, day, pg_backend_pid() % 64,
		sign * SUM(CASE WHEN prev_conversions = 0 THEN 1 ELSE 0 END),
		sign * SUM(conversions),
		sign * SUM(conversions * (2 * prev_conversions + conversions)),
		sign * SUM(revenue),
		sign * SUM(CAST(revenue AS NUMERIC) * (2 * prev_revenue + revenue)),
		sign * SUM(CAST(prev_revenue + revenue AS NUMERIC) * (prev_conversions + conversions)
			- CAST(prev_revenue AS NUMERIC) * prev_conversions),
		sign * SUM(cost)
	FROM unnest(rows)
	GROUP BY experiment, day, variant, metric
	ORDER BY experiment, day, variant, metric
	ON CONFLICT (experiment, day, variant, metric, shard) DO UPDATE SET
		converted = a.converted + EXCLUDED.converted, conversions = a.conversions + EXCLUDED.conversions,
		count_squares = a.count_squares + EXCLUDED.count_squares, revenue = a.revenue + EXCLUDED.revenue,
		revenue_squares = a.revenue_squares + EXCLUDED.revenue_squares,
		revenue_count = a.revenue_count + EXCLUDED.revenue_count, cost = a.cost + EXCLUDED.cost;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION series_units_add(rows exposures_rollup[], sign INTEGER) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO series_units AS a (experiment, variant, day, shard, units)
	SELECT experiment, first_variant, CAST(first_exposed_at AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01',
		pg_backend_pid() % 64, sign * COUNT(*)
	FROM unnest(rows) GROUP BY 1, 2, 3 ORDER BY 1, 3, 2
	ON CONFLICT (experiment, day, variant, shard) DO UPDATE SET units = a.units + EXCLUDED.units;
END $$;
-- +goose StatementEnd

-- The triggers: statement-level, over the transition tables (one upsert
-- per statement, not per row). An update takes back the old rows and adds
-- the new ones.
-- +goose StatementBegin
CREATE FUNCTION series_metrics_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM series_metrics_add(ARRAY(SELECT CAST(n AS unit_metrics_daily) FROM new_rows n WHERE NOT n.multiple), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION series_metrics_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM series_metrics_add(ARRAY(SELECT CAST(o AS unit_metrics_daily) FROM old_rows o WHERE NOT o.multiple), -1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION series_metrics_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM series_metrics_add(ARRAY(SELECT CAST(o AS unit_metrics_daily) FROM old_rows o WHERE NOT o.multiple), -1);
	PERFORM series_metrics_add(ARRAY(SELECT CAST(n AS unit_metrics_daily) FROM new_rows n WHERE NOT n.multiple), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION series_units_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM series_units_add(ARRAY(SELECT CAST(n AS exposures_rollup) FROM new_rows n), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION series_units_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM series_units_add(ARRAY(SELECT CAST(o AS exposures_rollup) FROM old_rows o), -1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- An update of exposures_rollup changes series_units only when it moves
-- a unit's first exposure to another variant or day (most add exposures).
-- +goose StatementBegin
CREATE FUNCTION series_units_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM series_units_add(ARRAY(SELECT CAST(o AS exposures_rollup) FROM old_rows o JOIN new_rows n ON n.experiment = o.experiment AND n.unit_id = o.unit_id
		WHERE n.first_exposed_at <> o.first_exposed_at OR n.first_variant <> o.first_variant), -1);
	PERFORM series_units_add(ARRAY(SELECT CAST(n AS exposures_rollup) FROM old_rows o JOIN new_rows n ON n.experiment = o.experiment AND n.unit_id = o.unit_id
		WHERE n.first_exposed_at <> o.first_exposed_at OR n.first_variant <> o.first_variant), 1);
	RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER series_metrics_inserted AFTER INSERT ON unit_metrics_daily
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION series_metrics_inserted();
CREATE TRIGGER series_metrics_deleted AFTER DELETE ON unit_metrics_daily
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION series_metrics_deleted();
CREATE TRIGGER series_metrics_updated AFTER UPDATE ON unit_metrics_daily
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION series_metrics_updated();
CREATE TRIGGER series_units_inserted AFTER INSERT ON exposures_rollup
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION series_units_inserted();
CREATE TRIGGER series_units_deleted AFTER DELETE ON exposures_rollup
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION series_units_deleted();
CREATE TRIGGER series_units_updated AFTER UPDATE ON exposures_rollup
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION series_units_updated();
