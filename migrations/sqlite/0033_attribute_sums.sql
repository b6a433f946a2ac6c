-- +goose Up
-- The per-attribute sums of the report's breakdowns by a kept attribute
-- (issue 17; experiments/sqlstore/attrsums.go): per experiment, variant,
-- multiple flag, attribute and value of the units' stored attributes
-- (exposures_rollup.attributes: the experiment's segments and the segment
-- attributes rfm_segment and aipl_stage), attr_units counts the units and
-- adds up their exposures, and attr_metrics adds up, per conversion name
-- too, the unit_metrics rows with conversions of those units as
-- slice_metrics does (0030). A unit without a value of the attribute (or
-- with '') is in no row: a breakdown's "(none)" slice is the slice sums
-- less the attribute's rows. Triggers keep both: on exposures_rollup for
-- a unit's own row and, when its attributes change or it goes, for its
-- unit_metrics rows; on unit_metrics with the attributes of the unit's
-- exposures_rollup row. The values are customer data: a key whose sums
-- fall to zero is deleted, so that an erased customer's own value goes
-- with it. SQLite has one writer, so every row is shard 0. Filled here
-- from the rollups stored so far.
CREATE TABLE attr_units (
	experiment TEXT NOT NULL,
	attribute  TEXT NOT NULL,
	value      TEXT NOT NULL,
	variant    TEXT NOT NULL,
	multiple   INTEGER NOT NULL,
	shard      INTEGER NOT NULL,
	units      INTEGER NOT NULL,
	exposures  INTEGER NOT NULL,
	PRIMARY KEY (experiment, attribute, value, variant, multiple, shard)
);

CREATE TABLE attr_metrics (
	experiment      TEXT NOT NULL,
	attribute       TEXT NOT NULL,
	value           TEXT NOT NULL,
	variant         TEXT NOT NULL,
	multiple        INTEGER NOT NULL,
	metric          TEXT NOT NULL,
	shard           INTEGER NOT NULL,
	converted       INTEGER NOT NULL,
	conversions     INTEGER NOT NULL,
	count_squares   INTEGER NOT NULL,
	revenue         INTEGER NOT NULL,
	revenue_squares INTEGER NOT NULL,
	revenue_count   INTEGER NOT NULL,
	cost            INTEGER NOT NULL,
	PRIMARY KEY (experiment, attribute, value, variant, multiple, metric, shard)
);

-- attr_units_change: inserting sign, a unit's key and attributes and its
-- exposures adds sign times the unit to attr_units under each (attribute,
-- value) pair of its attributes (the text values but ''), and deletes the
-- keys it took the last unit from.
CREATE VIEW attr_units_change AS
SELECT 0 AS sign, experiment, first_variant, multiple, attributes, exposures FROM exposures_rollup WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER attr_units_change INSTEAD OF INSERT ON attr_units_change BEGIN
	INSERT INTO attr_units AS a (experiment, attribute, value, variant, multiple, shard, units, exposures)
	SELECT NEW.experiment, j.key, CAST(j.value AS TEXT), NEW.first_variant, NEW.multiple, 0, NEW.sign, NEW.sign * NEW.exposures
	FROM json_each(NEW.attributes) j WHERE CAST(j.value AS TEXT) <> ''
	ON CONFLICT (experiment, attribute, value, variant, multiple, shard) DO UPDATE SET
		units = a.units + excluded.units, exposures = a.exposures + excluded.exposures;
	DELETE FROM attr_units WHERE NEW.sign < 0 AND units = 0 AND exposures = 0 AND experiment = NEW.experiment
		AND variant = NEW.first_variant AND multiple = NEW.multiple
		AND (attribute, value) IN (SELECT key, CAST(value AS TEXT) FROM json_each(NEW.attributes));
END;
-- +goose StatementEnd

-- attr_metrics_change: inserting sign, a unit_metrics row's key, its
-- unit's attributes and its sums adds sign times the row to attr_metrics
-- likewise.
CREATE VIEW attr_metrics_change AS
SELECT 0 AS sign, m.experiment, m.variant, m.multiple, r.attributes, m.metric, m.conversions, m.revenue, m.cost
FROM unit_metrics m, exposures_rollup r WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER attr_metrics_change INSTEAD OF INSERT ON attr_metrics_change BEGIN
	INSERT INTO attr_metrics AS a (experiment, attribute, value, variant, multiple, metric, shard, converted, conversions,
		count_squares, revenue, revenue_squares, revenue_count, cost)
	SELECT NEW.experiment, j.key, CAST(j.value AS TEXT), NEW.variant, NEW.multiple, NEW.metric, 0, NEW.sign,
		NEW.sign * NEW.conversions, NEW.sign * NEW.conversions * NEW.conversions, NEW.sign * NEW.revenue,
		NEW.sign * NEW.revenue * NEW.revenue, NEW.sign * NEW.revenue * NEW.conversions, NEW.sign * NEW.cost
	FROM json_each(NEW.attributes) j WHERE CAST(j.value AS TEXT) <> ''
	ON CONFLICT (experiment, attribute, value, variant, multiple, metric, shard) DO UPDATE SET
		converted = a.converted + excluded.converted, conversions = a.conversions + excluded.conversions,
		count_squares = a.count_squares + excluded.count_squares, revenue = a.revenue + excluded.revenue,
		revenue_squares = a.revenue_squares + excluded.revenue_squares,
		revenue_count = a.revenue_count + excluded.revenue_count, cost = a.cost + excluded.cost;
	DELETE FROM attr_metrics WHERE NEW.sign < 0 AND converted = 0 AND experiment = NEW.experiment
		AND variant = NEW.variant AND multiple = NEW.multiple AND metric = NEW.metric
		AND (attribute, value) IN (SELECT key, CAST(value AS TEXT) FROM json_each(NEW.attributes));
END;
-- +goose StatementEnd

-- attr_metrics is thus the sum over the unit_metrics rows of the units'
-- key (variant, multiple flag, attributes) in exposures_rollup: a trigger
-- on one table adds its rows' changes under the other's current rows. A
-- new unit's unit_metrics rows come after it, so they are added by the
-- triggers on unit_metrics alone.
--
-- The triggers on exposures_rollup: a unit's own row, and its
-- unit_metrics rows with conversions when it goes or its key changes (an
-- earlier first exposure, a second variant). A later exposure (only
-- exposures moves) adds its count in place.
-- +goose StatementBegin
CREATE TRIGGER attr_units_inserted AFTER INSERT ON exposures_rollup WHEN NEW.attributes IS NOT NULL BEGIN
	INSERT INTO attr_units_change VALUES (1, NEW.experiment, NEW.first_variant, NEW.multiple, NEW.attributes, NEW.exposures);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER attr_units_deleted AFTER DELETE ON exposures_rollup WHEN OLD.attributes IS NOT NULL BEGIN
	INSERT INTO attr_units_change VALUES (-1, OLD.experiment, OLD.first_variant, OLD.multiple, OLD.attributes, OLD.exposures);
	INSERT INTO attr_metrics_change SELECT -1, OLD.experiment, OLD.first_variant, OLD.multiple, OLD.attributes, m.metric,
		m.conversions, m.revenue, m.cost
	FROM unit_metrics m WHERE m.experiment = OLD.experiment AND m.unit_id = OLD.unit_id AND m.conversions > 0;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER attr_units_updated AFTER UPDATE ON exposures_rollup
WHEN NEW.first_variant IS NOT OLD.first_variant OR NEW.multiple IS NOT OLD.multiple
	OR NEW.attributes IS NOT OLD.attributes BEGIN
	INSERT INTO attr_units_change VALUES (1, NEW.experiment, NEW.first_variant, NEW.multiple, NEW.attributes, NEW.exposures);
	INSERT INTO attr_units_change VALUES (-1, OLD.experiment, OLD.first_variant, OLD.multiple, OLD.attributes, OLD.exposures);
	INSERT INTO attr_metrics_change SELECT 1, NEW.experiment, NEW.first_variant, NEW.multiple, NEW.attributes, m.metric,
		m.conversions, m.revenue, m.cost
	FROM unit_metrics m WHERE m.experiment = NEW.experiment AND m.unit_id = NEW.unit_id AND m.conversions > 0;
	INSERT INTO attr_metrics_change SELECT -1, OLD.experiment, OLD.first_variant, OLD.multiple, OLD.attributes, m.metric,
		m.conversions, m.revenue, m.cost
	FROM unit_metrics m WHERE m.experiment = OLD.experiment AND m.unit_id = OLD.unit_id AND m.conversions > 0;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER attr_units_exposed AFTER UPDATE OF exposures ON exposures_rollup
WHEN NEW.attributes IS NOT NULL AND NEW.exposures IS NOT OLD.exposures AND NEW.first_variant IS OLD.first_variant
	AND NEW.multiple IS OLD.multiple AND NEW.attributes IS OLD.attributes BEGIN
	UPDATE attr_units SET exposures = exposures + NEW.exposures - OLD.exposures
	WHERE experiment = NEW.experiment AND variant = NEW.first_variant AND multiple = NEW.multiple AND shard = 0
		AND (attribute, value) IN (SELECT key, CAST(value AS TEXT) FROM json_each(NEW.attributes) WHERE CAST(value AS TEXT) <> '');
END;
-- +goose StatementEnd

-- The triggers on unit_metrics: a row's change under its unit's key (the
-- new row added before the old one is taken back, so that a key keeps its
-- row; an update of the multiple flag alone changes no sum).
-- +goose StatementBegin
CREATE TRIGGER attr_metrics_inserted AFTER INSERT ON unit_metrics WHEN NEW.conversions > 0 BEGIN
	INSERT INTO attr_metrics_change SELECT 1, NEW.experiment, r.first_variant, r.multiple, r.attributes, NEW.metric,
		NEW.conversions, NEW.revenue, NEW.cost
	FROM exposures_rollup r WHERE r.experiment = NEW.experiment AND r.unit_id = NEW.unit_id AND r.attributes IS NOT NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER attr_metrics_deleted AFTER DELETE ON unit_metrics WHEN OLD.conversions > 0 BEGIN
	INSERT INTO attr_metrics_change SELECT -1, OLD.experiment, r.first_variant, r.multiple, r.attributes, OLD.metric,
		OLD.conversions, OLD.revenue, OLD.cost
	FROM exposures_rollup r WHERE r.experiment = OLD.experiment AND r.unit_id = OLD.unit_id AND r.attributes IS NOT NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER attr_metrics_updated AFTER UPDATE ON unit_metrics
WHEN NEW.metric IS NOT OLD.metric OR NEW.conversions IS NOT OLD.conversions OR NEW.revenue IS NOT OLD.revenue
	OR NEW.cost IS NOT OLD.cost BEGIN
	INSERT INTO attr_metrics_change SELECT 1, NEW.experiment, r.first_variant, r.multiple, r.attributes, NEW.metric,
		NEW.conversions, NEW.revenue, NEW.cost
	FROM exposures_rollup r WHERE NEW.conversions > 0 AND r.experiment = NEW.experiment AND r.unit_id = NEW.unit_id
		AND r.attributes IS NOT NULL;
	INSERT INTO attr_metrics_change SELECT -1, OLD.experiment, r.first_variant, r.multiple, r.attributes, OLD.metric,
		OLD.conversions, OLD.revenue, OLD.cost
	FROM exposures_rollup r WHERE OLD.conversions > 0 AND r.experiment = OLD.experiment AND r.unit_id = OLD.unit_id
		AND r.attributes IS NOT NULL;
END;
-- +goose StatementEnd

INSERT INTO attr_units_change SELECT 1, experiment, first_variant, multiple, attributes, exposures
FROM exposures_rollup WHERE attributes IS NOT NULL;
INSERT INTO attr_metrics_change SELECT 1, m.experiment, r.first_variant, r.multiple, r.attributes, m.metric, m.conversions,
	m.revenue, m.cost
FROM unit_metrics m JOIN exposures_rollup r ON r.experiment = m.experiment AND r.unit_id = m.unit_id
WHERE m.conversions > 0 AND r.attributes IS NOT NULL;
