-- +goose Up
-- The per-day sums of the daily series (issue 17;
-- experiments/sqlstore/seriessums.go). Each unit_metrics_daily row gets
-- the unit's running count and revenue before its day, so that the
-- changes it brings to the series' sums and sums of squares are its own;
-- series_metrics adds them up per (experiment, variant, metric, day)
-- over the units that are not multiple-exposed, series_units counts the
-- units first exposed per (experiment, variant, day). Triggers keep both
-- in every transaction that writes the rollups (ingest, erasure,
-- recomputation); SQLite has one writer, so every row is shard 0.
-- Filled here from the rollups stored so far.
ALTER TABLE unit_metrics_daily ADD COLUMN prev_conversions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE unit_metrics_daily ADD COLUMN prev_revenue INTEGER NOT NULL DEFAULT 0;

UPDATE unit_metrics_daily SET prev_conversions = w.pc, prev_revenue = w.pr FROM (
	SELECT experiment, unit_id, metric, day,
		SUM(conversions) OVER k - conversions AS pc, SUM(revenue) OVER k - revenue AS pr
	FROM unit_metrics_daily WINDOW k AS (PARTITION BY experiment, unit_id, metric ORDER BY day)
) w
WHERE unit_metrics_daily.experiment = w.experiment AND unit_metrics_daily.unit_id = w.unit_id
	AND unit_metrics_daily.metric = w.metric AND unit_metrics_daily.day = w.day AND (w.pc <> 0 OR w.pr <> 0);

-- The series reads the multiple-exposed units' rows apart (few of them).
CREATE INDEX unit_metrics_daily_multiple ON unit_metrics_daily (experiment) WHERE multiple;
CREATE INDEX exposures_rollup_multiple ON exposures_rollup (experiment) WHERE multiple;

CREATE TABLE series_metrics (
	experiment      TEXT NOT NULL,
	day             INTEGER NOT NULL,
	variant         TEXT NOT NULL,
	metric          TEXT NOT NULL,
	shard           INTEGER NOT NULL,
	converted       INTEGER NOT NULL,
	conversions     INTEGER NOT NULL,
	count_squares   INTEGER NOT NULL,
	revenue         INTEGER NOT NULL,
	revenue_squares INTEGER NOT NULL,
	revenue_count   INTEGER NOT NULL,
	cost            INTEGER NOT NULL,
	PRIMARY KEY (experiment, day, variant, metric, shard)
);

CREATE TABLE series_units (
	experiment TEXT NOT NULL,
	day        INTEGER NOT NULL,
	variant    TEXT NOT NULL,
	shard      INTEGER NOT NULL,
	units      INTEGER NOT NULL,
	PRIMARY KEY (experiment, day, variant, shard)
);

-- series_metrics_change: inserting sign and a unit_metrics_daily row into
-- it adds sign times the row's contributions to series_metrics.
CREATE VIEW series_metrics_change AS
SELECT 0 AS sign, experiment, variant, metric, day, conversions, revenue, cost, prev_conversions, prev_revenue
FROM unit_metrics_daily WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER series_metrics_change INSTEAD OF INSERT ON series_metrics_change BEGIN
	INSERT INTO series_metrics AS a (experiment, day, variant, metric, shard, converted, conversions, count_squares, revenue,
		revenue_squares, revenue_count, cost)
	VALUES (NEW.experiment, NEW.day, NEW.variant, NEW.metric, 0,
		NEW.sign * (NEW.prev_conversions = 0),
		NEW.sign * NEW.conversions,
		NEW.sign * NEW.conversions * (2 * NEW.prev_conversions + NEW.conversions),
		NEW.sign * NEW.revenue,
		NEW.sign * NEW.revenue * (2 * NEW.prev_revenue + NEW.revenue),
		NEW.sign * ((NEW.prev_revenue + NEW.revenue) * (NEW.prev_conversions + NEW.conversions) - NEW.prev_revenue * NEW.prev_conversions),
		NEW.sign * NEW.cost)
	ON CONFLICT (experiment, day, variant, metric, shard) DO UPDATE SET
		converted = a.converted + excluded.converted, conversions = a.conversions + excluded.conversions,
		count_squares = a.count_squares + excluded.count_squares, revenue = a.revenue + excluded.revenue,
		revenue_squares = a.revenue_squares + excluded.revenue_squares,
		revenue_count = a.revenue_count + excluded.revenue_count, cost = a.cost + excluded.cost;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER series_metrics_inserted AFTER INSERT ON unit_metrics_daily WHEN NOT NEW.multiple BEGIN
	INSERT INTO series_metrics_change VALUES (1, NEW.experiment, NEW.variant, NEW.metric, NEW.day, NEW.conversions, NEW.revenue,
		NEW.cost, NEW.prev_conversions, NEW.prev_revenue);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER series_metrics_deleted AFTER DELETE ON unit_metrics_daily WHEN NOT OLD.multiple BEGIN
	INSERT INTO series_metrics_change VALUES (-1, OLD.experiment, OLD.variant, OLD.metric, OLD.day, OLD.conversions, OLD.revenue,
		OLD.cost, OLD.prev_conversions, OLD.prev_revenue);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER series_metrics_updated AFTER UPDATE ON unit_metrics_daily BEGIN
	INSERT INTO series_metrics_change SELECT -1, OLD.experiment, OLD.variant, OLD.metric, OLD.day, OLD.conversions, OLD.revenue,
		OLD.cost, OLD.prev_conversions, OLD.prev_revenue WHERE NOT OLD.multiple;
	INSERT INTO series_metrics_change SELECT 1, NEW.experiment, NEW.variant, NEW.metric, NEW.day, NEW.conversions, NEW.revenue,
		NEW.cost, NEW.prev_conversions, NEW.prev_revenue WHERE NOT NEW.multiple;
END;
-- +goose StatementEnd

-- series_units_change: inserting sign and a unit's first exposure into it
-- adds sign units to series_units.
CREATE VIEW series_units_change AS SELECT 0 AS sign, experiment, first_variant, first_exposed_at FROM exposures_rollup WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER series_units_change INSTEAD OF INSERT ON series_units_change BEGIN
	INSERT INTO series_units AS a (experiment, day, variant, shard, units)
	VALUES (NEW.experiment, NEW.first_exposed_at / 86400000000, NEW.first_variant, 0, NEW.sign)
	ON CONFLICT (experiment, day, variant, shard) DO UPDATE SET units = a.units + excluded.units;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER series_units_inserted AFTER INSERT ON exposures_rollup BEGIN
	INSERT INTO series_units_change VALUES (1, NEW.experiment, NEW.first_variant, NEW.first_exposed_at);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER series_units_deleted AFTER DELETE ON exposures_rollup BEGIN
	INSERT INTO series_units_change VALUES (-1, OLD.experiment, OLD.first_variant, OLD.first_exposed_at);
END;
-- +goose StatementEnd

-- An update of exposures_rollup changes series_units only when it moves
-- a unit's first exposure to another variant or day (most add exposures).
-- +goose StatementBegin
CREATE TRIGGER series_units_updated AFTER UPDATE OF first_variant, first_exposed_at ON exposures_rollup
WHEN NEW.first_variant <> OLD.first_variant OR NEW.first_exposed_at <> OLD.first_exposed_at BEGIN
	INSERT INTO series_units_change VALUES (-1, OLD.experiment, OLD.first_variant, OLD.first_exposed_at);
	INSERT INTO series_units_change VALUES (1, NEW.experiment, NEW.first_variant, NEW.first_exposed_at);
END;
-- +goose StatementEnd

INSERT INTO series_metrics_change SELECT 1, experiment, variant, metric, day, conversions, revenue, cost, prev_conversions, prev_revenue
FROM unit_metrics_daily WHERE NOT multiple;
INSERT INTO series_units_change SELECT 1, experiment, first_variant, first_exposed_at FROM exposures_rollup;
