-- +goose Up
-- The attribute sums' upserts (0033) group their changes by attribute set
-- before taking the sets apart into (attribute, value) pairs, and look for
-- keys to delete only when a set lost units (or rows with conversions).
-- An exposure batch of units with stored attributes takes back its later
-- exposures' old rows and adds their new ones: before, every row's
-- attributes were taken apart twice, once to add the changes and once to
-- look for keys to delete, whose units never fall then; the units of a
-- batch share a few attribute sets. The sums are the same.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION attr_units_apply(changes attr_change[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(changes) = 0 THEN
		RETURN;
	END IF;
	INSERT INTO attr_units AS a (experiment, attribute, value, variant, multiple, shard, units, exposures)
	SELECT g.experiment, p.key, p.value, g.variant, g.multiple, pg_backend_pid() % 64, SUM(g.units), SUM(g.exposures)
	FROM (SELECT experiment, variant, multiple, attributes, SUM(sign) AS units, SUM(sign * exposures) AS exposures
		FROM unnest(changes) GROUP BY experiment, variant, multiple, attributes
		HAVING SUM(sign) <> 0 OR SUM(sign * exposures) <> 0) g
	CROSS JOIN LATERAL attr_pairs(g.attributes) p
	GROUP BY 1, 2, 3, 4, 5 HAVING SUM(g.units) <> 0 OR SUM(g.exposures) <> 0 ORDER BY 1, 2, 3, 4, 5
	ON CONFLICT (experiment, attribute, value, variant, multiple, shard) DO UPDATE SET
		units = a.units + EXCLUDED.units, exposures = a.exposures + EXCLUDED.exposures;
	IF EXISTS (SELECT FROM unnest(changes) GROUP BY experiment, variant, multiple, attributes HAVING SUM(sign) < 0) THEN
		WITH lost AS (
			SELECT DISTINCT g.experiment, p.key, p.value
			FROM (SELECT experiment, attributes FROM unnest(changes) GROUP BY experiment, variant, multiple, attributes
				HAVING SUM(sign) < 0) g
			CROSS JOIN LATERAL attr_pairs(g.attributes) p
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION attr_metrics_apply(changes attr_change[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(changes) = 0 THEN
		RETURN;
	END IF;
	INSERT INTO attr_metrics AS a (experiment, attribute, value, variant, multiple, metric, shard, converted, conversions,
		count_squares, revenue, revenue_squares, revenue_count, cost)
	SELECT g.experiment, p.key, p.value, g.variant, g.multiple, g.metric, pg_backend_pid() % 64,
		SUM(g.converted), SUM(g.conversions), SUM(g.count_squares), SUM(g.revenue), SUM(g.revenue_squares),
		SUM(g.revenue_count), SUM(g.cost)
	FROM (SELECT experiment, variant, multiple, attributes, metric, SUM(sign) AS converted,
			SUM(sign * conversions) AS conversions, SUM(sign * CAST(conversions AS NUMERIC) * conversions) AS count_squares,
			SUM(sign * revenue) AS revenue, SUM(sign * CAST(revenue AS NUMERIC) * revenue) AS revenue_squares,
			SUM(sign * CAST(revenue AS NUMERIC) * conversions) AS revenue_count, SUM(sign * cost) AS cost
		FROM unnest(changes) GROUP BY experiment, variant, multiple, attributes, metric) g
	CROSS JOIN LATERAL attr_pairs(g.attributes) p
	GROUP BY 1, 2, 3, 4, 5, 6
	HAVING SUM(g.converted) <> 0 OR SUM(g.conversions) <> 0 OR SUM(g.count_squares) <> 0 OR SUM(g.revenue) <> 0
		OR SUM(g.revenue_squares) <> 0 OR SUM(g.revenue_count) <> 0 OR SUM(g.cost) <> 0
	ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (experiment, attribute, value, variant, multiple, metric, shard) DO UPDATE SET
		converted = a.converted + EXCLUDED.converted, conversions = a.conversions + EXCLUDED.conversions,
		count_squares = a.count_squares + EXCLUDED.count_squares, revenue = a.revenue + EXCLUDED.revenue,
		revenue_squares = a.revenue_squares + EXCLUDED.revenue_squares,
		revenue_count = a.revenue_count + EXCLUDED.revenue_count, cost = a.cost + EXCLUDED.cost;
	IF EXISTS (SELECT FROM unnest(changes) GROUP BY experiment, variant, multiple, attributes, metric HAVING SUM(sign) < 0) THEN
		WITH lost AS (
			SELECT DISTINCT g.experiment, p.key, p.value
			FROM (SELECT experiment, attributes FROM unnest(changes) GROUP BY experiment, variant, multiple, attributes, metric
				HAVING SUM(sign) < 0) g
			CROSS JOIN LATERAL attr_pairs(g.attributes) p
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
