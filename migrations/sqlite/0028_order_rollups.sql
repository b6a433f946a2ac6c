-- +goose Up
-- The order rollups (issue 17; experiments/sqlstore/orders.go): the
-- attributed conversions per unit, conversion name, credited channel (the
-- conversion's own, else that of the unit's first exposure, else
-- '(none)') and order value (revenue net of refunds, minor units), and the
-- same summed per variant. The channel credit and the order values of the
-- report read variant_orders instead of every attributed raw conversion
-- with its refunds. unit_orders is maintained at ingest with the other
-- rollups; variant_orders follows it by the triggers below. Both are
-- filled here from the events stored so far.
CREATE TABLE unit_orders (
	experiment TEXT NOT NULL,
	unit_id    TEXT NOT NULL,
	metric     TEXT NOT NULL,
	channel    TEXT NOT NULL,
	value      INTEGER NOT NULL,
	variant    TEXT NOT NULL,
	multiple   INTEGER NOT NULL,
	orders     INTEGER NOT NULL,
	PRIMARY KEY (experiment, unit_id, metric, channel, value)
);

CREATE TABLE variant_orders (
	experiment TEXT NOT NULL,
	metric     TEXT NOT NULL,
	variant    TEXT NOT NULL,
	multiple   INTEGER NOT NULL,
	channel    TEXT NOT NULL,
	value      INTEGER NOT NULL,
	orders     INTEGER NOT NULL,
	PRIMARY KEY (experiment, metric, variant, multiple, channel, value)
);

INSERT INTO unit_orders (experiment, unit_id, metric, channel, value, variant, multiple, orders)
SELECT r.experiment, r.unit_id, c.name AS metric,
	COALESCE(NULLIF(c.channel, ''), NULLIF(r.channel, ''), '(none)') AS channel,
	CAST(MAX(c.revenue - (CASE WHEN c.order_id <> '' AND c.name <> 'refund' THEN COALESCE((SELECT SUM(CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END)
	FROM events f WHERE f.type = 'conversion' AND f.name = 'refund' AND f.unit_id = c.unit_id AND f.order_id = c.order_id
		AND (f.environment = '' OR f.environment = xw.environment) AND f.ts >= c.ts), 0) ELSE 0 END), 0) AS BIGINT) AS value,
	r.first_variant AS variant, r.multiple, COUNT(*) AS orders
FROM exposures_rollup r
LEFT JOIN experiments xw ON xw.key = r.experiment
CROSS JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
WHERE c.ts >= r.first_exposed_at
	AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, 604800000000)
	AND (c.environment = '' OR c.environment = xw.environment)
GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO variant_orders (experiment, metric, variant, multiple, channel, value, orders)
SELECT experiment, metric, variant, multiple, channel, value, SUM(orders) AS orders
FROM unit_orders GROUP BY experiment, metric, variant, multiple, channel, value HAVING SUM(orders) <> 0;

-- +goose StatementBegin
CREATE TRIGGER unit_orders_insert AFTER INSERT ON unit_orders BEGIN
	INSERT INTO variant_orders (experiment, metric, variant, multiple, channel, value, orders)
	VALUES (NEW.experiment, NEW.metric, NEW.variant, NEW.multiple, NEW.channel, NEW.value, NEW.orders)
	ON CONFLICT (experiment, metric, variant, multiple, channel, value) DO UPDATE SET orders = orders + excluded.orders;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER unit_orders_update AFTER UPDATE ON unit_orders BEGIN
	INSERT INTO variant_orders (experiment, metric, variant, multiple, channel, value, orders)
	VALUES (OLD.experiment, OLD.metric, OLD.variant, OLD.multiple, OLD.channel, OLD.value, -OLD.orders)
	ON CONFLICT (experiment, metric, variant, multiple, channel, value) DO UPDATE SET orders = orders + excluded.orders;
	INSERT INTO variant_orders (experiment, metric, variant, multiple, channel, value, orders)
	VALUES (NEW.experiment, NEW.metric, NEW.variant, NEW.multiple, NEW.channel, NEW.value, NEW.orders)
	ON CONFLICT (experiment, metric, variant, multiple, channel, value) DO UPDATE SET orders = orders + excluded.orders;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER unit_orders_delete AFTER DELETE ON unit_orders BEGIN
	INSERT INTO variant_orders (experiment, metric, variant, multiple, channel, value, orders)
	VALUES (OLD.experiment, OLD.metric, OLD.variant, OLD.multiple, OLD.channel, OLD.value, -OLD.orders)
	ON CONFLICT (experiment, metric, variant, multiple, channel, value) DO UPDATE SET orders = orders + excluded.orders;
END;
-- +goose StatementEnd
