package sqlstore

import (
	"context"
	"fmt"

	"github.com/promolift/promolift/experiments"
)

// The order rollups: the attributed conversions counted by the value the
// report gives each of them, so that the channel credit (ChannelCredit)
// and the order values (OrderValues) read a few rows per variant instead
// of every attributed raw conversion with its refunds.
//
// unit_orders holds, per unit, conversion name (metric), credited channel
// and order value, how many of the unit's attributed conversions have
// them (orders):
//
//   - the credited channel is the conversion's own channel, else that of
//     the unit's first exposure, else experiments.NoSlice;
//   - the order value is the conversion's revenue net of its refunds
//     (MoneyDialect.Revenue), in minor units: money is discrete, so few
//     distinct values repeat over many orders.
//
// variant and multiple copy the unit's first_variant and multiple flag, as
// in unit_metrics. Its rows are written wherever unit_metrics' are, in the
// same transaction: a fresh conversion of an unchanged unit adds to its
// row, units whose first exposure moved or that got a refund are rebuilt
// from the raw events (a refund moves its order from one value to
// another), and an erasure deletes the unit's rows.
//
// variant_orders is unit_orders summed over units: per experiment, metric,
// variant, multiple flag, credited channel and value, the number of
// orders. Triggers on unit_orders keep it (migration 0028): SQLite's add
// each row's change to it; PostgreSQL's collect each statement's changes
// in a temporary table that FlushOrders adds to variant_orders, in key
// order and once per transaction, so that concurrent ingests lock its few
// shared rows in one order and for a short time. Rows that fall to zero
// orders stay until RecomputeRollups and are never read.

// OrdersColumns are the columns of unit_orders, in the order of
// OrdersSelectList.
const OrdersColumns = `experiment, unit_id, metric, channel, value, variant, multiple, orders`

// VariantOrdersColumns are the columns of variant_orders.
const VariantOrdersColumns = `experiment, metric, variant, multiple, channel, value, orders`

// OrdersSelectList is the select list of unit_orders rows over the unit's
// rollup row r and its attributed conversions c (joined to experiments xw
// for the refunds' environment); group the rows by OrdersGroupBy.
func (d MoneyDialect) OrdersSelectList() string {
	return `r.experiment, r.unit_id, c.name AS metric,
	COALESCE(NULLIF(c.channel, ''), NULLIF(r.channel, ''), '` + experiments.NoSlice + `') AS channel,
	CAST(` + d.Revenue("") + ` AS BIGINT) AS value, r.first_variant AS variant, r.multiple, COUNT(*) AS orders`
}

// OrdersGroupBy groups the rows of OrdersSelectList.
const OrdersGroupBy = `GROUP BY 1, 2, 3, 4, 5, 6, 7`

// VariantOrdersSelect sums unit_orders into variant_orders rows (without
// the rows of zero orders).
const VariantOrdersSelect = `SELECT experiment, metric, variant, multiple, channel, value, SUM(orders) AS orders
FROM unit_orders GROUP BY experiment, metric, variant, multiple, channel, value HAVING SUM(orders) <> 0`

// RebuildVariantOrders is the SQL that rebuilds variant_orders from
// unit_orders (RecomputeRollups).
const RebuildVariantOrders = `DELETE FROM variant_orders;
INSERT INTO variant_orders (` + VariantOrdersColumns + `) ` + VariantOrdersSelect

// analysedOrders is the condition on variant_orders rows of the analysed
// units of sq.
func (d CohortDialect) analysedOrders(sq experiments.StatsQuery) string {
	if sq.MultipleExposure == experiments.MultipleFirst {
		return d.True
	}
	return `NOT multiple`
}

// ChannelCredit runs the query of experiments.ChannelStore.ChannelCredit
// on q (a database handle or transaction): the attributed conversions of
// the analysed units of sq.Experiment (sq.MultipleExposure applies), per
// credited channel, variant and conversion name, with their revenue net of
// refunds, summed from variant_orders. The values are whole minor units,
// so the sum of value × orders is the sum over the orders.
func (d CohortDialect) ChannelCredit(ctx context.Context, q Queryer, sq experiments.StatsQuery) ([]experiments.ChannelCredit, error) {
	var rows []struct {
		Channel     string  `db:"channel"`
		Variant     string  `db:"variant"`
		Metric      string  `db:"metric"`
		Conversions int64   `db:"conversions"`
		Revenue     float64 `db:"revenue"`
	}
	err := q.SelectContext(ctx, &rows, `SELECT channel, variant, metric, SUM(orders) AS conversions,
	SUM(CAST(value AS `+d.Float+`) * orders) AS revenue
FROM variant_orders WHERE experiment = `+d.TextParam+` AND `+d.analysedOrders(sq)+` AND orders <> 0
GROUP BY 1, 2, 3 HAVING SUM(orders) > 0 ORDER BY 1, 2, 3`, sq.Experiment)
	if err != nil {
		return nil, err
	}
	out := make([]experiments.ChannelCredit, len(rows))
	for i, r := range rows {
		out[i] = experiments.ChannelCredit(r)
	}
	return out, nil
}

// OrderValues runs experiments.OrderValueStore.OrderValues on q in one
// query (one snapshot): each variant's distinct order values in ascending
// order with their numbers of orders, from variant_orders. The k-th
// smallest order value is the first value whose running count reaches k.
func (d CohortDialect) OrderValues(ctx context.Context, q Queryer, sq experiments.StatsQuery, metric string,
	ranks func(n int64) []int64) ([]experiments.VariantOrderValues, error) {
	var rows []struct {
		Variant string `db:"variant"`
		Value   int64  `db:"value"`
		N       int64  `db:"n"`
	}
	if err := q.SelectContext(ctx, &rows, `SELECT variant, value, SUM(orders) AS n FROM variant_orders
WHERE experiment = `+d.TextParam+` AND metric = `+d.TextParam+` AND `+d.analysedOrders(sq)+` AND orders <> 0
GROUP BY variant, value HAVING SUM(orders) > 0 ORDER BY variant, value`, sq.Experiment, metric); err != nil {
		return nil, err
	}
	out := []experiments.VariantOrderValues{}
	for lo := 0; lo < len(rows); {
		hi, n := lo, int64(0)
		for ; hi < len(rows) && rows[hi].Variant == rows[lo].Variant; hi++ {
			n += rows[hi].N
		}
		vo := experiments.VariantOrderValues{Variant: rows[lo].Variant, N: n, Ranks: ranks(n)}
		for _, k := range vo.Ranks {
			if k < 1 || k > n {
				return nil, fmt.Errorf("order value rank %d outside [1, %d]", k, n)
			}
			// The ranks need not be sorted: walk from the variant's first
			// value for each (a variant has few distinct values).
			i, cum := lo, rows[lo].N
			for cum < k {
				i++
				cum += rows[i].N
			}
			vo.Values = append(vo.Values, float64(rows[i].Value))
		}
		out = append(out, vo)
		lo = hi
	}
	return out, nil
}
