package sqlstore

import "github.com/promolift/promolift/experiments"

// CostRow is one row of promotion_costs: the cost rule of one variant,
// with the integer form (experiments.ConversionCostOf) the stores evaluate
// in SQL.
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
}

// CostRows returns the promotion_costs rows of e's variants by variant key.
func CostRows(e *experiments.Experiment) map[string]CostRow {
	out := make(map[string]CostRow, len(e.Variants))
	for _, v := range e.Variants {
		p := v.Promotion
		c := experiments.ConversionCostOf(p)
		out[v.Key] = CostRow{Experiment: e.Key, Variant: v.Key, Type: string(p.Type), Value: p.Value,
			UnitCost: p.UnitCost, CostRule: string(p.CostRule), PercentBP: c.PercentBP, Amount: c.Amount, Capped: c.Capped}
	}
	return out
}
