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
-- writes the rollups (ingest, erasure, recomputation); SQLite has one
-- writer, so every row is shard 0. Filled here from the rollups stored so
-- far. The hour is the report's strftime('%H', first_exposed_at / 1000000,
-- 'unixepoch').
CREATE TABLE slice_units (
	experiment TEXT NOT NULL,
	variant    TEXT NOT NULL,
	multiple   INTEGER NOT NULL,
	hour       TEXT NOT NULL,
	channel    TEXT NOT NULL,
	shard      INTEGER NOT NULL,
	units      INTEGER NOT NULL,
	exposures  INTEGER NOT NULL,
	PRIMARY KEY (experiment, variant, multiple, hour, channel, shard)
);

CREATE TABLE slice_metrics (
	experiment      TEXT NOT NULL,
	variant         TEXT NOT NULL,
	multiple        INTEGER NOT NULL,
	hour            TEXT NOT NULL,
	channel         TEXT NOT NULL,
	metric          TEXT NOT NULL,
	currency        TEXT NOT NULL,
	shard           INTEGER NOT NULL,
	converted       INTEGER NOT NULL,
	conversions     INTEGER NOT NULL,
	count_squares   INTEGER NOT NULL,
	revenue         INTEGER NOT NULL,
	revenue_squares INTEGER NOT NULL,
	revenue_count   INTEGER NOT NULL,
	cost            INTEGER NOT NULL,
	PRIMARY KEY (experiment, variant, multiple, hour, channel, metric, currency, shard)
);

-- slice_units_change: inserting sign and an exposures_rollup row into it
-- adds sign times the unit to slice_units.
CREATE VIEW slice_units_change AS
SELECT 0 AS sign, experiment, first_variant, multiple, first_exposed_at, channel, exposures FROM exposures_rollup WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER slice_units_change INSTEAD OF INSERT ON slice_units_change BEGIN
	INSERT INTO slice_units AS a (experiment, variant, multiple, hour, channel, shard, units, exposures)
	VALUES (NEW.experiment, NEW.first_variant, NEW.multiple, strftime('%H', NEW.first_exposed_at / 1000000, 'unixepoch'),
		NEW.channel, 0, NEW.sign, NEW.sign * NEW.exposures)
	ON CONFLICT (experiment, variant, multiple, hour, channel, shard) DO UPDATE SET
		units = a.units + excluded.units, exposures = a.exposures + excluded.exposures;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER slice_units_inserted AFTER INSERT ON exposures_rollup BEGIN
	INSERT INTO slice_units_change VALUES (1, NEW.experiment, NEW.first_variant, NEW.multiple, NEW.first_exposed_at, NEW.channel,
		NEW.exposures);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER slice_units_deleted AFTER DELETE ON exposures_rollup BEGIN
	INSERT INTO slice_units_change VALUES (-1, OLD.experiment, OLD.first_variant, OLD.multiple, OLD.first_exposed_at, OLD.channel,
		OLD.exposures);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER slice_units_updated AFTER UPDATE ON exposures_rollup
WHEN NEW.first_variant <> OLD.first_variant OR NEW.multiple <> OLD.multiple OR NEW.first_exposed_at <> OLD.first_exposed_at
	OR NEW.channel <> OLD.channel OR NEW.exposures <> OLD.exposures BEGIN
	INSERT INTO slice_units_change VALUES (-1, OLD.experiment, OLD.first_variant, OLD.multiple, OLD.first_exposed_at, OLD.channel,
		OLD.exposures);
	INSERT INTO slice_units_change VALUES (1, NEW.experiment, NEW.first_variant, NEW.multiple, NEW.first_exposed_at, NEW.channel,
		NEW.exposures);
END;
-- +goose StatementEnd

-- slice_metrics_change: inserting sign and a unit_metrics row with
-- conversions into it adds sign times the row to slice_metrics.
CREATE VIEW slice_metrics_change AS
SELECT 0 AS sign, experiment, variant, multiple, first_exposed_at, channel, metric, currency, conversions, revenue, cost
FROM unit_metrics WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER slice_metrics_change INSTEAD OF INSERT ON slice_metrics_change BEGIN
	INSERT INTO slice_metrics AS a (experiment, variant, multiple, hour, channel, metric, currency, shard, converted, conversions,
		count_squares, revenue, revenue_squares, revenue_count, cost)
	VALUES (NEW.experiment, NEW.variant, NEW.multiple, strftime('%H', NEW.first_exposed_at / 1000000, 'unixepoch'), NEW.channel,
		NEW.metric, NEW.currency, 0, NEW.sign, NEW.sign * NEW.conversions, NEW.sign * NEW.conversions * NEW.conversions,
		NEW.sign * NEW.revenue, NEW.sign * NEW.revenue * NEW.revenue, NEW.sign * NEW.revenue * NEW.conversions, NEW.sign * NEW.cost)
	ON CONFLICT (experiment, variant, multiple, hour, channel, metric, currency, shard) DO UPDATE SET
		converted = a.converted + excluded.converted, conversions = a.conversions + excluded.conversions,
		count_squares = a.count_squares + excluded.count_squares, revenue = a.revenue + excluded.revenue,
		revenue_squares = a.revenue_squares + excluded.revenue_squares,
		revenue_count = a.revenue_count + excluded.revenue_count, cost = a.cost + excluded.cost;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER slice_metrics_inserted AFTER INSERT ON unit_metrics WHEN NEW.conversions > 0 BEGIN
	INSERT INTO slice_metrics_change VALUES (1, NEW.experiment, NEW.variant, NEW.multiple, NEW.first_exposed_at, NEW.channel,
		NEW.metric, NEW.currency, NEW.conversions, NEW.revenue, NEW.cost);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER slice_metrics_deleted AFTER DELETE ON unit_metrics WHEN OLD.conversions > 0 BEGIN
	INSERT INTO slice_metrics_change VALUES (-1, OLD.experiment, OLD.variant, OLD.multiple, OLD.first_exposed_at, OLD.channel,
		OLD.metric, OLD.currency, OLD.conversions, OLD.revenue, OLD.cost);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER slice_metrics_updated AFTER UPDATE ON unit_metrics BEGIN
	INSERT INTO slice_metrics_change SELECT -1, OLD.experiment, OLD.variant, OLD.multiple, OLD.first_exposed_at, OLD.channel,
		OLD.metric, OLD.currency, OLD.conversions, OLD.revenue, OLD.cost WHERE OLD.conversions > 0;
	INSERT INTO slice_metrics_change SELECT 1, NEW.experiment, NEW.variant, NEW.multiple, NEW.first_exposed_at, NEW.channel,
		NEW.metric, NEW.currency, NEW.conversions, NEW.revenue, NEW.cost WHERE NEW.conversions > 0;
END;
-- +goose StatementEnd

INSERT INTO slice_units_change SELECT 1, experiment, first_variant, multiple, first_exposed_at, channel, exposures
FROM exposures_rollup;
INSERT INTO slice_metrics_change SELECT 1, experiment, variant, multiple, first_exposed_at, channel, metric, currency,
	conversions, revenue, cost FROM unit_metrics WHERE conversions > 0;
