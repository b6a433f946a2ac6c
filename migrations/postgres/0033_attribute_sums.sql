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
-- (all shards added up) fall to zero is deleted, so that an erased
-- customer's own value goes with it (the rows taken away are added back
-- when a concurrent transaction made them non-zero). Filled here from the
-- rollups stored so far.
CREATE TABLE attr_units (
	experiment TEXT NOT NULL,
	attribute  TEXT NOT NULL,
	value      TEXT NOT NULL,
	variant    TEXT NOT NULL,
	multiple   BOOLEAN NOT NULL,
	shard      INTEGER NOT NULL,
	units      BIGINT NOT NULL,
	exposures  BIGINT NOT NULL,
	PRIMARY KEY (experiment, attribute, value, variant, multiple, shard)
);

CREATE TABLE attr_metrics (
	experiment      TEXT NOT NULL,
	attribute       TEXT NOT NULL,
	value           TEXT NOT NULL,
	variant         TEXT NOT NULL,
	multiple        BOOLEAN NOT NULL,
	metric          TEXT NOT NULL,
	shard           INTEGER NOT NULL,
	converted       BIGINT NOT NULL,
	conversions     BIGINT NOT NULL,
	count_squares   NUMERIC NOT NULL,
	revenue         BIGINT NOT NULL,
	revenue_squares NUMERIC NOT NULL,
	revenue_count   NUMERIC NOT NULL,
	cost            BIGINT NOT NULL,
	PRIMARY KEY (experiment, attribute, value, variant, multiple, metric, shard)
);

-- attr_pairs are the (attribute, value) pairs of stored attributes a
-- breakdown slices by: the text values but ''.
-- +goose StatementBegin
CREATE FUNCTION attr_pairs(attributes JSONB) RETURNS TABLE (key TEXT, value TEXT) LANGUAGE sql IMMUTABLE AS $$
	SELECT j.key, j.value FROM jsonb_each_text(CASE WHEN jsonb_typeof(attributes) = 'object' THEN attributes END) j
	WHERE j.value <> ''
$$;
-- +goose StatementEnd

-- A change of the sums: sign times a unit (exposures) or a unit_metrics
-- row with conversions (conversions, revenue, cost) under attributes.
CREATE TYPE attr_change AS (sign INTEGER, experiment TEXT, variant TEXT, multiple BOOLEAN, attributes JSONB,
	exposures BIGINT, metric TEXT, conversions BIGINT, revenue BIGINT, cost BIGINT);

-- attr_units_apply adds changes (exposures set) to attr_units in the shard
-- of this backend, keys in order, and deletes the keys of the pairs that
-- lost units whose sums fell to zero.
-- +goose StatementBegin
CREATE FUNCTION attr_units_apply(changes attr_change[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(changes) = 0 THEN
		RETURN;
	END IF;
	INSERT INTO attr_units AS a (experiment, attribute, value, variant, multiple, shard, units, exposures)
	SELECT c.experiment, p.key, p.value, c.variant, c.multiple, pg_backend_pid() % 64, SUM(c.sign), SUM(c.sign * c.exposures)
	FROM unnest(changes) c CROSS JOIN LATERAL attr_pairs(c.attributes) p
	GROUP BY 1, 2, 3, 4, 5 HAVING SUM(c.sign) <> 0 OR SUM(c.sign * c.exposures) <> 0 ORDER BY 1, 2, 3, 4, 5
	ON CONFLICT (experiment, attribute, value, variant, multiple, shard) DO UPDATE SET
		units = a.units + EXCLUDED.units, exposures = a.exposures + EXCLUDED.exposures;
	IF EXISTS (SELECT 1 FROM unnest(changes) c WHERE c.sign < 0) THEN
		WITH lost AS (
			SELECT c.experiment, p.key, p.value FROM unnest(changes) c CROSS JOIN LATERAL attr_pairs(c.attributes) p
			GROUP BY c.experiment, p.key, p.value, c.variant, c.multiple HAVING SUM(c.sign) < 0
		), zero AS (
			SELECT experiment, attribute, value, variant, multiple FROM attr_units
			WHERE (experiment, attribute, value) IN (SELECT * FROM lost)
			GROUP BY 1, 2, 3, 4, 5 HAVING SUM(units) = 0 AND SUM(exposures) = 0
		), gone AS (
			DELETE FROM attr_units a USING zero z WHERE a.experiment = z.experiment AND a.attribute = z.attribute
				AND a.value = z.value AND a.variant = z.variant AND a.multiple = z.multiple
			RETURNING a.*
		)
		INSERT INTO attr_units AS a (experiment, attribute, value, variant, multiple, shard, units, exposures)
		SELECT experiment, attribute, value, variant, multiple, pg_backend_pid() % 64, SUM(units), SUM(exposures)
		FROM gone GROUP BY 1, 2, 3, 4, 5 HAVING SUM(units) <> 0 OR SUM(exposures) <> 0
		ON CONFLICT (experiment, attribute, value, variant, multiple, shard) DO UPDATE SET
			units = a.units + EXCLUDED.units, exposures = a.exposures + EXCLUDED.exposures;
	END IF;
END $$;
-- +goose StatementEnd

-- attr_metrics_apply adds changes (metric set, conversions > 0) to
-- attr_metrics like attr_units_apply.
-- +goose StatementBegin
CREATE FUNCTION attr_metrics_apply(changes attr_change[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(changes) = 0 THEN
		RETURN;
	END IF;
	INSERT INTO attr_metrics AS a (experiment, attribute, value, variant, multiple, metric, shard, converted, conversions,
		count_squares, revenue, revenue_squares, revenue_count, cost)
	SELECT c.experiment, p.key, p.value, c.variant, c.multiple, c.metric, pg_backend_pid() % 64,
		SUM(c.sign), SUM(c.sign * c.conversions), SUM(c.sign * CAST(c.conversions AS NUMERIC) * c.conversions),
		SUM(c.sign * c.revenue), SUM(c.sign * CAST(c.revenue AS NUMERIC) * c.revenue),
		SUM(c.sign * CAST(c.revenue AS NUMERIC) * c.conversions), SUM(c.sign * c.cost)
	FROM unnest(changes) c CROSS JOIN LATERAL attr_pairs(c.attributes) p
	GROUP BY 1, 2, 3, 4, 5, 6
	HAVING SUM(c.sign) <> 0 OR SUM(c.sign * c.conversions) <> 0 OR SUM(c.sign * c.revenue) <> 0 OR SUM(c.sign * c.cost) <> 0
		OR SUM(c.sign * CAST(c.conversions AS NUMERIC) * c.conversions) <> 0
		OR SUM(c.sign * CAST(c.revenue AS NUMERIC) * c.revenue) <> 0
		OR SUM(c.sign * CAST(c.revenue AS NUMERIC) * c.conversions) <> 0
	ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (experiment, attribute, value, variant, multiple, metric, shard) DO UPDATE SET
		converted = a.converted + EXCLUDED.converted, conversions = a.conversions + EXCLUDED.conversions,
		count_squares = a.count_squares + EXCLUDED.count_squares, revenue = a.revenue + EXCLUDED.revenue,
		revenue_squares = a.revenue_squares + EXCLUDED.revenue_squares,
		revenue_count = a.revenue_count + EXCLUDED.revenue_count, cost = a.cost + EXCLUDED.cost;
	IF EXISTS (SELECT 1 FROM unnest(changes) c WHERE c.sign < 0) THEN
		WITH lost AS (
			SELECT c.experiment, p.key, p.value FROM unnest(changes) c CROSS JOIN LATERAL attr_pairs(c.attributes) p
			GROUP BY c.experiment, p.key, p.value, c.variant, c.multiple, c.metric HAVING SUM(c.sign) < 0
		), zero AS (
			SELECT experiment, attribute, value, variant, multiple, metric FROM attr_metrics
			WHERE (experiment, attribute, value) IN (SELECT * FROM lost)
			GROUP BY 1, 2, 3, 4, 5, 6 HAVING SUM(converted) = 0
		), gone AS (
			DELETE FROM attr_metrics a USING zero z WHERE a.experiment = z.experiment AND a.attribute = z.attribute
				AND a.value = z.value AND a.variant = z.variant AND a.multiple = z.multiple AND a.metric = z.metric
			RETURNING a.*
		)
		INSERT INTO attr_metrics AS a (experiment, attribute, value, variant, multiple, metric, shard, converted, conversions,
			count_squares, revenue, revenue_squares, revenue_count, cost)
		SELECT experiment, attribute, value, variant, multiple, metric, pg_backend_pid() % 64, SUM(converted),
			SUM(conversions), SUM(count_squares), SUM(revenue), SUM(revenue_squares), SUM(revenue_count), SUM(cost)
		FROM gone GROUP BY 1, 2, 3, 4, 5, 6
		HAVING SUM(converted) <> 0 OR SUM(conversions) <> 0 OR SUM(count_squares) <> 0 OR SUM(revenue) <> 0
			OR SUM(revenue_squares) <> 0 OR SUM(revenue_count) <> 0 OR SUM(cost) <> 0
		ON CONFLICT (experiment, attribute, value, variant, multiple, metric, shard) DO UPDATE SET
			converted = a.converted + EXCLUDED.converted, conversions = a.conversions + EXCLUDED.conversions,
			count_squares = a.count_squares + EXCLUDED.count_squares, revenue = a.revenue + EXCLUDED.revenue,
			revenue_squares = a.revenue_squares + EXCLUDED.revenue_squares,
			revenue_count = a.revenue_count + EXCLUDED.revenue_count, cost = a.cost + EXCLUDED.cost;
	END IF;
END $$;
-- +goose StatementEnd

-- attr_unit_change is sign times unit r's row; attr_row_metrics the
-- changes of the unit_metrics rows with conversions of unit r under r's
-- variant, multiple flag and attributes (its unit_metrics index range).
-- +goose StatementBegin
CREATE FUNCTION attr_unit_change(sign INTEGER, r exposures_rollup) RETURNS attr_change LANGUAGE sql IMMUTABLE AS $$
	SELECT ROW(sign, r.experiment, r.first_variant, r.multiple, r.attributes, r.exposures, NULL, 0, 0, 0)::attr_change
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attr_row_metrics(sign INTEGER, r exposures_rollup) RETURNS SETOF attr_change LANGUAGE sql STABLE AS $$
	SELECT ROW(sign, r.experiment, r.first_variant, r.multiple, r.attributes, 0, m.metric, m.conversions, m.revenue, m.cost)::attr_change
	FROM unit_metrics m WHERE m.experiment = r.experiment AND m.unit_id = r.unit_id AND m.conversions > 0
$$;
-- +goose StatementEnd

-- attr_metric_change is sign times unit_metrics row m under the variant,
-- multiple flag and attributes of its unit's exposures_rollup row (none
-- when it has no such row or no attributes).
-- +goose StatementBegin
CREATE FUNCTION attr_metric_change(sign INTEGER, m unit_metrics) RETURNS SETOF attr_change LANGUAGE sql STABLE AS $$
	SELECT ROW(sign, m.experiment, r.first_variant, r.multiple, r.attributes, 0, m.metric, m.conversions, m.revenue, m.cost)::attr_change
	FROM exposures_rollup r WHERE r.experiment = m.experiment AND r.unit_id = m.unit_id AND r.attributes IS NOT NULL
		AND m.conversions > 0
$$;
-- +goose StatementEnd

-- attr_metrics is thus the sum over the unit_metrics rows of the units'
-- key (variant, multiple flag, attributes) in exposures_rollup: a trigger
-- on one table adds its rows' changes under the other's current rows. A
-- statement that writes both (the exposures' upsert with the multiple flag
-- of unit_metrics, or a new unit with its unit_metrics rows) changes the
-- key of a unit's rows (exposures_rollup) or their sums (unit_metrics),
-- never both: a new unit's unit_metrics rows come with it or after it, so
-- they are added by the triggers on unit_metrics alone.
--
-- The triggers on exposures_rollup. Statement-level for the units, over
-- the transition tables; only rows with attributes count. A deleted unit's
-- unit_metrics rows are taken back. An update takes back the old rows and
-- adds the new ones in one grouped upsert (a later exposure moves only
-- exposures); a row-level trigger moves the unit_metrics rows of the units
-- whose key changed (an earlier first exposure, a second variant). Each
-- returns at once when its transition tables hold no row with attributes
-- (an exposure batch fires the insert and the update triggers both).
-- +goose StatementBegin
CREATE FUNCTION attr_units_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows WHERE attributes IS NOT NULL) THEN
		PERFORM attr_units_apply(ARRAY(SELECT attr_unit_change(1, n) FROM new_rows n WHERE n.attributes IS NOT NULL));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attr_units_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM old_rows WHERE attributes IS NOT NULL) THEN
		PERFORM attr_units_apply(ARRAY(SELECT attr_unit_change(-1, o) FROM old_rows o WHERE o.attributes IS NOT NULL));
		PERFORM attr_metrics_apply(ARRAY(SELECT c FROM old_rows o CROSS JOIN LATERAL attr_row_metrics(-1, o) c
			WHERE o.attributes IS NOT NULL));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attr_units_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows WHERE attributes IS NOT NULL) OR EXISTS (SELECT FROM old_rows WHERE attributes IS NOT NULL) THEN
		PERFORM attr_units_apply(ARRAY(SELECT attr_unit_change(-1, o) FROM old_rows o WHERE o.attributes IS NOT NULL
			UNION ALL SELECT attr_unit_change(1, n) FROM new_rows n WHERE n.attributes IS NOT NULL));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attr_units_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM attr_metrics_apply(ARRAY(SELECT attr_row_metrics(-1, OLD) UNION ALL SELECT attr_row_metrics(1, NEW)));
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- The triggers on unit_metrics: a row's change under its unit's key (an
-- update of the multiple flag alone changes no sum); at once back when
-- the statement wrote no row.
-- +goose StatementBegin
CREATE FUNCTION attr_metrics_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows) THEN
		PERFORM attr_metrics_apply(ARRAY(SELECT c FROM new_rows n CROSS JOIN LATERAL attr_metric_change(1, n) c));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attr_metrics_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM old_rows) THEN
		PERFORM attr_metrics_apply(ARRAY(SELECT c FROM old_rows o CROSS JOIN LATERAL attr_metric_change(-1, o) c));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attr_metrics_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows) THEN
		PERFORM attr_metrics_apply(ARRAY(SELECT c FROM old_rows o CROSS JOIN LATERAL attr_metric_change(-1, o) c
			UNION ALL SELECT c FROM new_rows n CROSS JOIN LATERAL attr_metric_change(1, n) c));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER attr_units_inserted AFTER INSERT ON exposures_rollup
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION attr_units_inserted();
CREATE TRIGGER attr_units_deleted AFTER DELETE ON exposures_rollup
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION attr_units_deleted();
CREATE TRIGGER attr_units_updated AFTER UPDATE ON exposures_rollup
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION attr_units_updated();
CREATE TRIGGER attr_units_moved AFTER UPDATE OF first_variant, multiple, attributes ON exposures_rollup
	FOR EACH ROW WHEN ((OLD.attributes IS NOT NULL OR NEW.attributes IS NOT NULL)
		AND (OLD.first_variant, OLD.multiple, OLD.attributes) IS DISTINCT FROM (NEW.first_variant, NEW.multiple, NEW.attributes))
	EXECUTE FUNCTION attr_units_moved();
CREATE TRIGGER attr_metrics_inserted AFTER INSERT ON unit_metrics
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION attr_metrics_inserted();
CREATE TRIGGER attr_metrics_deleted AFTER DELETE ON unit_metrics
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION attr_metrics_deleted();
CREATE TRIGGER attr_metrics_updated AFTER UPDATE ON unit_metrics
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION attr_metrics_updated();

INSERT INTO attr_units (experiment, attribute, value, variant, multiple, shard, units, exposures)
SELECT r.experiment, p.key, p.value, r.first_variant, r.multiple, 0, COUNT(*), SUM(r.exposures)
FROM exposures_rollup r CROSS JOIN LATERAL attr_pairs(r.attributes) p
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO attr_metrics (experiment, attribute, value, variant, multiple, metric, shard, converted, conversions,
	count_squares, revenue, revenue_squares, revenue_count, cost)
SELECT m.experiment, p.key, p.value, r.first_variant, r.multiple, m.metric, 0, COUNT(*), SUM(m.conversions),
	SUM(CAST(m.conversions AS NUMERIC) * m.conversions), SUM(m.revenue), SUM(CAST(m.revenue AS NUMERIC) * m.revenue),
	SUM(CAST(m.revenue AS NUMERIC) * m.conversions), SUM(m.cost)
FROM unit_metrics m JOIN exposures_rollup r ON r.experiment = m.experiment AND r.unit_id = m.unit_id
	CROSS JOIN LATERAL attr_pairs(r.attributes) p
WHERE m.conversions > 0
GROUP BY 1, 2, 3, 4, 5, 6;
