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
-- exposure, a second variant). A key whose count (all shards added up)
-- falls to zero is deleted. Filled here from the rollups stored so far.
ALTER TABLE unit_weeks ADD COLUMN repeated BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE unit_weeks w SET repeated = TRUE FROM (
	SELECT experiment, unit_id, metric, week, week > MIN(week) OVER (PARTITION BY experiment, unit_id, metric) AS repeated
	FROM unit_weeks WHERE week >= 1
) x
WHERE x.repeated AND w.experiment = x.experiment AND w.unit_id = x.unit_id AND w.metric = x.metric AND w.week = x.week;

CREATE TABLE cohort_repurchasers (
	experiment TEXT NOT NULL,
	metric     TEXT NOT NULL,
	week       INTEGER NOT NULL,
	hour       INTEGER NOT NULL,
	variant    TEXT NOT NULL,
	multiple   BOOLEAN NOT NULL,
	shard      INTEGER NOT NULL,
	units      BIGINT NOT NULL,
	PRIMARY KEY (experiment, metric, week, hour, variant, multiple, shard)
);

-- A change of cohort_repurchasers: sign times a repurchasing unit_weeks
-- row under its unit's key.
CREATE TYPE repurchase_change AS (sign INTEGER, experiment TEXT, metric TEXT, week INTEGER, hour INTEGER, variant TEXT,
	multiple BOOLEAN);

-- cohort_repurchasers_apply adds changes to cohort_repurchasers in the
-- shard of this backend, keys in order, and deletes the keys that lost
-- units whose counts fell to zero (the rows taken away are added back when
-- a concurrent transaction made them non-zero).
-- +goose StatementBegin
CREATE FUNCTION cohort_repurchasers_apply(changes repurchase_change[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(changes) = 0 THEN
		RETURN;
	END IF;
	INSERT INTO cohort_repurchasers AS a (experiment, metric, week, hour, variant, multiple, shard, units)
	SELECT experiment, metric, week, hour, variant, multiple, pg_backend_pid() % 64, SUM(sign)
	FROM unnest(changes) GROUP BY 1, 2, 3, 4, 5, 6 HAVING SUM(sign) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (experiment, metric, week, hour, variant, multiple, shard) DO UPDATE SET units = a.units + EXCLUDED.units;
	IF EXISTS (SELECT FROM unnest(changes) GROUP BY experiment, metric, week, hour, variant, multiple HAVING SUM(sign) < 0) THEN
		WITH lost AS (
			SELECT experiment, metric, week, hour, variant, multiple FROM unnest(changes)
			GROUP BY 1, 2, 3, 4, 5, 6 HAVING SUM(sign) < 0
		), zero AS (
			SELECT a.experiment, a.metric, a.week, a.hour, a.variant, a.multiple FROM cohort_repurchasers a
			JOIN lost l ON l.experiment = a.experiment AND l.metric = a.metric AND l.week = a.week AND l.hour = a.hour
				AND l.variant = a.variant AND l.multiple = a.multiple
			GROUP BY 1, 2, 3, 4, 5, 6 HAVING SUM(a.units) = 0
		), gone AS (
			DELETE FROM cohort_repurchasers a USING zero z WHERE a.experiment = z.experiment AND a.metric = z.metric
				AND a.week = z.week AND a.hour = z.hour AND a.variant = z.variant AND a.multiple = z.multiple
			RETURNING a.*
		)
		INSERT INTO cohort_repurchasers AS a (experiment, metric, week, hour, variant, multiple, shard, units)
		SELECT experiment, metric, week, hour, variant, multiple, pg_backend_pid() % 64, SUM(units)
		FROM gone GROUP BY 1, 2, 3, 4, 5, 6 HAVING SUM(units) <> 0
		ON CONFLICT (experiment, metric, week, hour, variant, multiple, shard) DO UPDATE SET units = a.units + EXCLUDED.units;
	END IF;
END $$;
-- +goose StatementEnd

-- repurchase_unit_changes are sign times the repurchasing unit_weeks rows
-- of unit r under r's key (their index range); repurchase_week_change is
-- sign times unit_weeks row w under its unit's current key (none when it
-- does not count or has no such unit). Both return columns, not one
-- ROW(...), so that PostgreSQL inlines them into the triggers' statements
-- (0037).
-- +goose StatementBegin
CREATE FUNCTION repurchase_unit_changes(sign INTEGER, r exposures_rollup) RETURNS SETOF repurchase_change LANGUAGE sql STABLE AS $$
	SELECT sign, r.experiment, w.metric, w.week, CAST(FLOOR(EXTRACT(EPOCH FROM r.first_exposed_at) / 3600) AS INTEGER),
		r.first_variant, r.multiple
	FROM unit_weeks w WHERE w.experiment = r.experiment AND w.unit_id = r.unit_id AND w.week >= 1
		AND (w.conversions >= 2 OR w.repeated)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION repurchase_week_change(sign INTEGER, w unit_weeks) RETURNS SETOF repurchase_change LANGUAGE sql STABLE AS $$
	SELECT sign, w.experiment, w.metric, w.week, CAST(FLOOR(EXTRACT(EPOCH FROM r.first_exposed_at) / 3600) AS INTEGER),
		r.first_variant, r.multiple
	FROM exposures_rollup r WHERE r.experiment = w.experiment AND r.unit_id = w.unit_id AND w.week >= 1
		AND (w.conversions >= 2 OR w.repeated)
$$;
-- +goose StatementEnd

-- cohort_repurchasers is thus the count of the repurchasing unit_weeks
-- rows under their units' keys in exposures_rollup: a trigger on one table
-- adds its rows' changes under the other's current rows. No statement
-- writes both tables, and a new unit's unit_weeks rows come after its
-- exposures_rollup row, so they are added by the triggers on unit_weeks
-- alone.
--
-- The triggers on unit_weeks: statement-level, over the transition
-- tables, at once back when no row of them counts (most rows of a batch
-- are a unit's first conversion of a week).
-- +goose StatementBegin
CREATE FUNCTION cohort_repurchasers_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows WHERE week >= 1 AND (conversions >= 2 OR repeated)) THEN
		PERFORM cohort_repurchasers_apply(ARRAY(SELECT c FROM new_rows n CROSS JOIN LATERAL repurchase_week_change(1, n) c));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION cohort_repurchasers_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM old_rows WHERE week >= 1 AND (conversions >= 2 OR repeated)) THEN
		PERFORM cohort_repurchasers_apply(ARRAY(SELECT c FROM old_rows o CROSS JOIN LATERAL repurchase_week_change(-1, o) c));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION cohort_repurchasers_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows WHERE week >= 1 AND (conversions >= 2 OR repeated))
		OR EXISTS (SELECT FROM old_rows WHERE week >= 1 AND (conversions >= 2 OR repeated)) THEN
		PERFORM cohort_repurchasers_apply(ARRAY(SELECT c FROM old_rows o CROSS JOIN LATERAL repurchase_week_change(-1, o) c
			UNION ALL SELECT c FROM new_rows n CROSS JOIN LATERAL repurchase_week_change(1, n) c));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- The triggers on exposures_rollup: a deleted unit's rows are taken back
-- (statement-level); a row-level trigger moves the rows of the units whose
-- key changed, few (an earlier first exposure, a second variant).
-- +goose StatementBegin
CREATE FUNCTION cohort_repurchasers_units_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM old_rows) THEN
		PERFORM cohort_repurchasers_apply(ARRAY(SELECT c FROM old_rows o CROSS JOIN LATERAL repurchase_unit_changes(-1, o) c));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION cohort_repurchasers_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cohort_repurchasers_apply(ARRAY(SELECT repurchase_unit_changes(-1, OLD) UNION ALL
		SELECT repurchase_unit_changes(1, NEW)));
	RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER cohort_repurchasers_inserted AFTER INSERT ON unit_weeks
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cohort_repurchasers_inserted();
CREATE TRIGGER cohort_repurchasers_deleted AFTER DELETE ON unit_weeks
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cohort_repurchasers_deleted();
CREATE TRIGGER cohort_repurchasers_updated AFTER UPDATE ON unit_weeks
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cohort_repurchasers_updated();
CREATE TRIGGER cohort_repurchasers_units_deleted AFTER DELETE ON exposures_rollup
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cohort_repurchasers_units_deleted();
CREATE TRIGGER cohort_repurchasers_moved AFTER UPDATE OF first_variant, first_exposed_at, multiple ON exposures_rollup
	FOR EACH ROW WHEN ((OLD.first_variant, OLD.first_exposed_at, OLD.multiple)
		IS DISTINCT FROM (NEW.first_variant, NEW.first_exposed_at, NEW.multiple))
	EXECUTE FUNCTION cohort_repurchasers_moved();

INSERT INTO cohort_repurchasers (experiment, metric, week, hour, variant, multiple, shard, units)
SELECT w.experiment, w.metric, w.week, CAST(FLOOR(EXTRACT(EPOCH FROM r.first_exposed_at) / 3600) AS INTEGER),
	r.first_variant, r.multiple, 0, COUNT(*)
FROM unit_weeks w JOIN exposures_rollup r ON r.experiment = w.experiment AND r.unit_id = w.unit_id
WHERE w.week >= 1 AND (w.conversions >= 2 OR w.repeated)
GROUP BY 1, 2, 3, 4, 5, 6;
