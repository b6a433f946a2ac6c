package experiments

import (
	"context"
	"strconv"

	"github.com/promolift/promolift/stats"
)

// OrderValueQuantiles are the quantile levels of the report's order-value
// metrics: the median and p90 order value of the primary metric.
var OrderValueQuantiles = []float64{0.5, 0.9}

// OrderValueSuffix names the order-value quantile metric of a conversion
// metric: purchase → purchase_order_value_p50 (OrderValueMetric).
const OrderValueSuffix = "_order_value_p"

// OrderValueMetric is the stats metric key of the q-quantile of the order
// value of the conversion metric name: purchase, 0.9 →
// purchase_order_value_p90.
func OrderValueMetric(name string, q float64) string {
	return name + OrderValueSuffix + strconv.FormatFloat(q*100, 'f', -1, 64)
}

// OrderValueQuantile is one variant's q-quantile of the order value of a
// conversion metric: Orders orders, the sample quantile Value and its 95%
// interval [Lower, Upper], the order values at the ranks of
// stats.QuantileRanks; all 0 without orders. Money in minor units.
type OrderValueQuantile struct {
	Metric   string // the stats metric key (OrderValueMetric)
	Quantile float64
	Variant  string
	Orders   int64
	Value    float64
	Lower    float64
	Upper    float64
}

// orderValueQuantiles sets r.OrderValues and r.OrderValueAnalysis: one
// secondary "quantile" metric per OrderValueQuantiles level, per variant
// the number of orders of the primary metric (units) and the order values
// at the ranks of stats.QuantileRanks, read from an OrderValueStore, and
// analysed by stats.Analyze with r's engine, control and variants. They
// form their own multiple-testing family, apart from r.Analysis, so that
// they change no p-value, adjusted p-value or decision of the report.
// Nothing is set when the store is not an OrderValueStore, when the
// conversions carry several currencies, or when no variant has an order.
func (s *Service) orderValueQuantiles(ctx context.Context, r *Report, rb *reportBuilder, q StatsQuery) error {
	ov, ok := s.store.(OrderValueStore)
	if !ok || rb.noMoney {
		return nil
	}
	// ranks asks for the value, lower and upper ranks of every level.
	ranks := func(n int64) []int64 {
		var out []int64
		for _, lv := range OrderValueQuantiles {
			v, lo, up := stats.QuantileRanks(n, lv)
			out = append(out, v, lo, up)
		}
		return out
	}
	rows, err := ov.OrderValues(ctx, q, rb.primary, ranks)
	if err != nil || len(rows) == 0 {
		return err
	}
	byVariant := map[string]VariantOrderValues{}
	for _, row := range rows {
		byVariant[row.Variant] = row
	}
	in := stats.AnalyzeInput{Engine: r.input.Engine, SequentialTuning: r.input.SequentialTuning,
		Correction: r.input.Correction, Control: r.input.Control, Alpha: r.input.Alpha,
		Alternative: r.input.Alternative}
	for _, v := range r.input.Variants {
		in.Variants = append(in.Variants, stats.VariantInput{Key: v.Key, Weight: v.Weight, Units: v.Units})
	}
	for i, lv := range OrderValueQuantiles {
		mi := stats.MetricInput{Key: OrderValueMetric(rb.primary, lv), Type: "quantile", Role: "secondary",
			Quantile: &lv, LowerIsBetter: rb.exp.lowerIsBetter(rb.primary), Stats: map[string]stats.ArmStats{}}
		for _, v := range rb.exp.Variants {
			row := byVariant[v.Key]
			n := float64(row.N)
			a := stats.ArmStats{Units: &n}
			oq := OrderValueQuantile{Metric: mi.Key, Quantile: lv, Variant: v.Key, Orders: row.N}
			if row.N > 0 {
				oq.Value, oq.Lower, oq.Upper = row.Values[3*i], row.Values[3*i+1], row.Values[3*i+2]
				val, lo, up := oq.Value, oq.Lower, oq.Upper
				a.QuantileValue, a.QuantileLower, a.QuantileUpper = &val, &lo, &up
			}
			mi.Stats[v.Key] = a
			r.OrderValues = append(r.OrderValues, oq)
		}
		in.Metrics = append(in.Metrics, mi)
		r.money[mi.Key] = true
	}
	out, err := analyze(in)
	if err != nil {
		return err
	}
	r.orderValueInput, r.OrderValueAnalysis = &in, &out
	return nil
}

// OrderValueInput returns the exact stats input of OrderValueAnalysis
// (nil without it).
func (r *Report) OrderValueInput() *stats.AnalyzeInput { return r.orderValueInput }
