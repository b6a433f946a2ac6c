package sqlstore

import (
	"sort"
	"time"

	"github.com/promolift/promolift/experiments"
)

// VariantRow scans one row of the per-variant unit counts of a
// sufficient-statistics query.
type VariantRow struct {
	Slice           string `db:"slice"`
	Variant         string `db:"variant"`
	Units           int64  `db:"units"`
	Exposures       int64  `db:"exposures"`
	MultipleExposed int64  `db:"multiple_exposed"`
}

// MetricRow scans one row of the per-metric sums of a sufficient-statistics
// query.
type MetricRow struct {
	Slice          string  `db:"slice"`
	Variant        string  `db:"variant"`
	Metric         string  `db:"metric"`
	Converted      int64   `db:"converted"`
	Count          float64 `db:"count"`
	CountSquares   float64 `db:"count_squares"`
	Revenue        float64 `db:"revenue"`
	RevenueSquares float64 `db:"revenue_squares"`
	RevenueCount   float64 `db:"revenue_count"`
	Cost           float64 `db:"cost"`
}

// AssembleStats builds the SufficientStats of both query results: variants
// in (slice, variant) order, sorted here because the databases collate
// "(none)" differently, and the metric sums with a zero entry for every
// (slice, variant) and every metric seen, in (slice, variant, metric) order.
func AssembleStats(vs []VariantRow, ms []MetricRow) *experiments.SufficientStats {
	out := &experiments.SufficientStats{}
	for _, v := range vs {
		out.Variants = append(out.Variants, experiments.VariantCounts{Slice: v.Slice, Variant: v.Variant,
			Units: v.Units, Exposures: v.Exposures, MultipleExposed: v.MultipleExposed})
	}
	sort.Slice(out.Variants, func(i, j int) bool {
		a, b := out.Variants[i], out.Variants[j]
		return a.Slice < b.Slice || a.Slice == b.Slice && a.Variant < b.Variant
	})
	out.Metrics = fillMetrics(out.Variants, ms)
	return out
}

func fillMetrics(vs []experiments.VariantCounts, ms []MetricRow) []experiments.MetricSums {
	type key struct{ slice, variant, metric string }
	have := map[key]experiments.MetricSums{}
	names := map[string]bool{}
	for _, m := range ms {
		have[key{m.Slice, m.Variant, m.Metric}] = experiments.MetricSums{Slice: m.Slice, Variant: m.Variant, Metric: m.Metric,
			Converted: m.Converted, Count: m.Count, CountSquares: m.CountSquares, Revenue: m.Revenue,
			RevenueSquares: m.RevenueSquares, RevenueCount: m.RevenueCount, Cost: m.Cost}
		names[m.Metric] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []experiments.MetricSums
	for _, v := range vs {
		for _, n := range sorted {
			m, ok := have[key{v.Slice, v.Variant, n}]
			if !ok {
				m = experiments.MetricSums{Slice: v.Slice, Variant: v.Variant, Metric: n}
			}
			out = append(out, m)
		}
	}
	return out
}

// PreRow is a row of the stores' pre-period (CUPED covariate) query: per
// slice, variant and metric, the sums over units of the pre-period value
// x, of x², and of x·y with y the unit's in-experiment value.
type PreRow struct {
	Slice         string  `db:"slice"`
	Variant       string  `db:"variant"`
	Metric        string  `db:"metric"`
	PreSum        float64 `db:"pre_sum"`
	PreSumSquares float64 `db:"pre_sum_squares"`
	PreCrossSum   float64 `db:"pre_cross_sum"`
}

// MergePrePeriod copies the pre-period sums of rows into the matching
// (slice, variant, metric) entries of ms.
func MergePrePeriod(ms []experiments.MetricSums, rows []PreRow) {
	if len(rows) == 0 {
		return
	}
	type key struct{ slice, variant, metric string }
	at := make(map[key]int, len(ms))
	for i, m := range ms {
		at[key{m.Slice, m.Variant, m.Metric}] = i
	}
	for _, r := range rows {
		if i, ok := at[key{r.Slice, r.Variant, r.Metric}]; ok {
			ms[i].PreSum, ms[i].PreSumSquares, ms[i].PreCrossSum = r.PreSum, r.PreSumSquares, r.PreCrossSum
		}
	}
}

// CohortRow is a row of the stores' cohort query.
type CohortRow struct {
	Variant      string `db:"variant"`
	Week         int    `db:"week"`
	Units        int64  `db:"units"`
	Repurchasers int64  `db:"repurchasers"`
}

// Cohorts converts the rows of the cohort query.
func Cohorts(rows []CohortRow) []experiments.CohortRow {
	out := make([]experiments.CohortRow, len(rows))
	for i, r := range rows {
		out[i] = experiments.CohortRow{Variant: r.Variant, Week: r.Week, Units: r.Units, Repurchasers: r.Repurchasers}
	}
	return out
}

// CohortCutoff is the cut-off of CohortStats for q: q.Until, else q.AsOf,
// else now.
func CohortCutoff(q experiments.StatsQuery) time.Time {
	switch {
	case !q.Until.IsZero():
		return q.Until
	case !q.AsOf.IsZero():
		return q.AsOf
	}
	return time.Now()
}
