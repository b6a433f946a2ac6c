-- +goose Up
-- The per-hour counts of the repurchase cohorts (issue 17;
-- experiments/sqlstore/repurchasers.go), so that a report counts the
-- repurchasers of week k from the units first exposed before the hour of
-- t = cut-off - k weeks without reading one unit_weeks row per unit.
--
-- A unit repurchased in week k >= 1 when its unit_weeks row of week k
-- counts two conversions or more, or counts one and the unit has a row of
-- an earlier week j in [1, k). unit_weeks.repeated stores the second
-- part per row (the ingest sets it, as unit_metrics_daily's running sums),
-- so that whether a row counts depends on the row alone.
-- cohort_repurchasers counts those rows per (experiment, metric, week,
-- hour of the first exposure (whole hours since 1970), first variant,
-- multiple flag) of their unit's exposures_rollup row. An hour, not a
-- day: the units of t's hour are read one by one. Triggers keep it: on
-- unit_weeks for its
-- rows under their unit's current exposures_rollup row, on exposures_rollup
-- for a unit's rows when it goes or its key moves (an earlier first
-- exposure, a second variant). A key whose count falls to zero is deleted.
-- SQLite has one writer, so every row is shard 0. Filled here from the
-- rollups stored so far.
ALTER TABLE unit_weeks ADD COLUMN repeated INTEGER NOT NULL DEFAULT 0;

UPDATE unit_weeks SET repeated = 1 FROM (
	SELECT experiment, unit_id, metric, week, week > MIN(week) OVER (PARTITION BY experiment, unit_id, metric) AS repeated
	FROM unit_weeks WHERE week >= 1
) x
WHERE x.repeated AND unit_weeks.experiment = x.experiment AND unit_weeks.unit_id = x.unit_id
	AND unit_weeks.metric = x.metric AND unit_weeks.week = x.week;

CREATE TABLE cohort_repurchasers (
	experiment TEXT NOT NULL,
	metric     TEXT NOT NULL,
	week       INTEGER NOT NULL,
	hour       INTEGER NOT NULL,
	variant    TEXT NOT NULL,
	multiple   INTEGER NOT NULL,
	shard      INTEGER NOT NULL,
	units      INTEGER NOT NULL,
	PRIMARY KEY (experiment, metric, week, hour, variant, multiple, shard)
);

-- repurchase_change: inserting sign and a key adds sign to the key's
-- count, and deletes the key when that took its last unit.
CREATE VIEW repurchase_change AS
SELECT 0 AS sign, experiment, metric, week, hour, variant, multiple FROM cohort_repurchasers WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER repurchase_change INSTEAD OF INSERT ON repurchase_change BEGIN
	INSERT INTO cohort_repurchasers AS a (experiment, metric, week, hour, variant, multiple, shard, units)
	VALUES (NEW.experiment, NEW.metric, NEW.week, NEW.hour, NEW.variant, NEW.multiple, 0, NEW.sign)
	ON CONFLICT (experiment, metric, week, hour, variant, multiple, shard) DO UPDATE SET units = a.units + excluded.units;
	DELETE FROM cohort_repurchasers WHERE NEW.sign < 0 AND units = 0 AND experiment = NEW.experiment AND metric = NEW.metric
		AND week = NEW.week AND hour = NEW.hour AND variant = NEW.variant AND multiple = NEW.multiple AND shard = 0;
END;
-- +goose StatementEnd

-- cohort_repurchasers is thus the count of the repurchasing unit_weeks
-- rows under their units' keys in exposures_rollup: a trigger on one table
-- adds its rows' changes under the other's current rows. A new unit's
-- unit_weeks rows come after its exposures_rollup row, so they are added
-- by the triggers on unit_weeks alone.
--
-- The triggers on unit_weeks: a row that counts, under its unit's key
-- (the new row added before the old one is taken back, so that a key
-- keeps its row).
-- +goose StatementBegin
CREATE TRIGGER cohort_repurchasers_inserted AFTER INSERT ON unit_weeks
WHEN NEW.week >= 1 AND (NEW.conversions >= 2 OR NEW.repeated) BEGIN
	INSERT INTO repurchase_change SELECT 1, NEW.experiment, NEW.metric, NEW.week, r.first_exposed_at / 3600000000,
		r.first_variant, r.multiple
	FROM exposures_rollup r WHERE r.experiment = NEW.experiment AND r.unit_id = NEW.unit_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cohort_repurchasers_deleted AFTER DELETE ON unit_weeks
WHEN OLD.week >= 1 AND (OLD.conversions >= 2 OR OLD.repeated) BEGIN
	INSERT INTO repurchase_change SELECT -1, OLD.experiment, OLD.metric, OLD.week, r.first_exposed_at / 3600000000,
		r.first_variant, r.multiple
	FROM exposures_rollup r WHERE r.experiment = OLD.experiment AND r.unit_id = OLD.unit_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cohort_repurchasers_updated AFTER UPDATE ON unit_weeks
WHEN (NEW.week >= 1 AND (NEW.conversions >= 2 OR NEW.repeated)) IS NOT (OLD.week >= 1 AND (OLD.conversions >= 2 OR OLD.repeated))
	OR NEW.experiment IS NOT OLD.experiment OR NEW.unit_id IS NOT OLD.unit_id OR NEW.metric IS NOT OLD.metric
	OR NEW.week IS NOT OLD.week BEGIN
	INSERT INTO repurchase_change SELECT 1, NEW.experiment, NEW.metric, NEW.week, r.first_exposed_at / 3600000000,
		r.first_variant, r.multiple
	FROM exposures_rollup r WHERE NEW.week >= 1 AND (NEW.conversions >= 2 OR NEW.repeated)
		AND r.experiment = NEW.experiment AND r.unit_id = NEW.unit_id;
	INSERT INTO repurchase_change SELECT -1, OLD.experiment, OLD.metric, OLD.week, r.first_exposed_at / 3600000000,
		r.first_variant, r.multiple
	FROM exposures_rollup r WHERE OLD.week >= 1 AND (OLD.conversions >= 2 OR OLD.repeated)
		AND r.experiment = OLD.experiment AND r.unit_id = OLD.unit_id;
END;
-- +goose StatementEnd

-- The triggers on exposures_rollup: a unit's rows that count, when it goes
-- or its key changes (an earlier first exposure, a second variant).
-- +goose StatementBegin
CREATE TRIGGER cohort_repurchasers_units_deleted AFTER DELETE ON exposures_rollup BEGIN
	INSERT INTO repurchase_change SELECT -1, OLD.experiment, w.metric, w.week, OLD.first_exposed_at / 3600000000,
		OLD.first_variant, OLD.multiple
	FROM unit_weeks w WHERE w.experiment = OLD.experiment AND w.unit_id = OLD.unit_id AND w.week >= 1
		AND (w.conversions >= 2 OR w.repeated);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cohort_repurchasers_moved AFTER UPDATE ON exposures_rollup
WHEN NEW.first_variant IS NOT OLD.first_variant OR NEW.multiple IS NOT OLD.multiple
	OR NEW.first_exposed_at / 3600000000 IS NOT OLD.first_exposed_at / 3600000000 BEGIN
	INSERT INTO repurchase_change SELECT 1, NEW.experiment, w.metric, w.week, NEW.first_exposed_at / 3600000000,
		NEW.first_variant, NEW.multiple
	FROM unit_weeks w WHERE w.experiment = NEW.experiment AND w.unit_id = NEW.unit_id AND w.week >= 1
		AND (w.conversions >= 2 OR w.repeated);
	INSERT INTO repurchase_change SELECT -1, OLD.experiment, w.metric, w.week, OLD.first_exposed_at / 3600000000,
		OLD.first_variant, OLD.multiple
	FROM unit_weeks w WHERE w.experiment = OLD.experiment AND w.unit_id = OLD.unit_id AND w.week >= 1
		AND (w.conversions >= 2 OR w.repeated);
END;
-- +goose StatementEnd

INSERT INTO cohort_repurchasers (experiment, metric, week, hour, variant, multiple, shard, units)
SELECT w.experiment, w.metric, w.week, r.first_exposed_at / 3600000000, r.first_variant, r.multiple, 0, COUNT(*)
FROM unit_weeks w JOIN exposures_rollup r ON r.experiment = w.experiment AND r.unit_id = w.unit_id
WHERE w.week >= 1 AND (w.conversions >= 2 OR w.repeated)
GROUP BY 1, 2, 3, 4, 5, 6;
