package sqlstore

import (
	"context"

	"github.com/promolift/promolift/experiments"
)

// CostRow is one row of promotion_costs: the cost rule of one variant,
// with the integer form (experiments.ConversionCostOf) the stores evaluate
// in SQL, and the conversion names that cost (MoneyDialect.Cost).
type CostRow struct {
	Experiment string  `db:"experiment"`
	Variant    string  `db:"variant"`
	Type       string  `db:"type"`
	Value      float64 `db:"value"`
	UnitCost   int64   `db:"unit_cost"`
	CostRule   string  `db:"cost_rule"`
	PercentBP  int64   `db:"percent_bp"`
	Amount     int64   `db:"amount"`
	Capped     bool    `db:"capped"`
	// CostMetrics are the experiment's experiments.CostMetrics (the same on
	// every variant's row).
	CostMetrics string `db:"cost_metrics"`
}

// CostRows returns the promotion_costs rows of e's variants by variant key.
func CostRows(e *experiments.Experiment) map[string]CostRow {
	out := make(map[string]CostRow, len(e.Variants))
	metrics := experiments.CostMetrics(e)
	for _, v := range e.Variants {
		p := v.Promotion
		c := experiments.ConversionCostOf(p)
		out[v.Key] = CostRow{Experiment: e.Key, Variant: v.Key, Type: string(p.Type), Value: p.Value,
			UnitCost: p.UnitCost, CostRule: string(p.CostRule), PercentBP: c.PercentBP, Amount: c.Amount, Capped: c.Capped,
			CostMetrics: metrics}
	}
	return out
}

// CostRowsChanged reports whether the stored promotion_costs rows of
// experiment differ from want.
func CostRowsChanged(ctx context.Context, tx Queryer, experiment string, want map[string]CostRow) (bool, error) {
	var have []CostRow
	if err := tx.SelectContext(ctx, &have, `SELECT experiment, variant, type, value, unit_cost, cost_rule,
		percent_bp, amount, capped, cost_metrics FROM promotion_costs WHERE experiment = ?`, experiment); err != nil {
		return false, err
	}
	if len(have) != len(want) {
		return true, nil
	}
	for _, h := range have {
		if w, ok := want[h.Variant]; !ok || w != h {
			return true, nil
		}
	}
	return false, nil
}

// ReplaceCostRows replaces the promotion_costs rows of experiment with
// rows.
func ReplaceCostRows(ctx context.Context, tx Queryer, experiment string, rows map[string]CostRow) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM promotion_costs WHERE experiment = ?`, experiment); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := tx.NamedExecContext(ctx, `INSERT INTO promotion_costs (experiment, variant, type, value,
			unit_cost, cost_rule, percent_bp, amount, capped, cost_metrics) VALUES (:experiment, :variant, :type, :value,
			:unit_cost, :cost_rule, :percent_bp, :amount, :capped, :cost_metrics)`, r); err != nil {
			return err
		}
	}
	return nil
}
