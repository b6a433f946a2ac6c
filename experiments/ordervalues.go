package experiments

import "context"

// OrderValueStore is an optional store capability: the order values of
// one conversion metric per variant at chosen ranks, for the report's
// quantile metrics (median and p90 order value).
//
// An order value is the revenue of one attributed conversion named metric
// (within the attribution window of its unit's first exposure) net of its
// refunds, as the report's money counts it (docs/report.md, "Money"); a
// fully refunded order counts with value 0. The units are the analysed
// units of q.Experiment (q.MultipleExposure applies); q.Dimension,
// q.Until, q.AsOf and q.PrePeriod are ignored.
//
// OrderValues counts each variant's orders n, calls ranks(n) for the
// 1-based ranks wanted (each in [1, n]) and returns the values at them in
// ascending order of value, all in one snapshot. Variants without orders
// are left out. Both stores (sqlite, postgres) implement it; with another
// store the report has no quantile metrics.
type OrderValueStore interface {
	OrderValues(ctx context.Context, q StatsQuery, metric string, ranks func(n int64) []int64) ([]VariantOrderValues, error)
}

// VariantOrderValues are the order values of one variant at Ranks: N
// orders, and Values[i] the Ranks[i]-th smallest order value.
type VariantOrderValues struct {
	Variant string
	N       int64
	Ranks   []int64
	Values  []float64
}
