package experiments

import (
	"math"
	"testing"

	"github.com/promolift/promolift/stats"
)

// TestPersonalizationValue checks the incremental value of the
// personalization policy against hand-computed numbers.
func TestPersonalizationValue(t *testing.T) {
	exp := &Experiment{Personalization: true, Variants: []Variant{
		{Key: "control", Promotion: Promotion{Type: PromoNone}},
		{Key: "ten_off", Promotion: Promotion{Type: PromoPercentOff}},
		{Key: "five_off", Promotion: Promotion{Type: PromoPercentOff}},
		{Key: "holdout", Promotion: Promotion{Type: PromoNone}}, // not a promotion: ignored
		{Key: "personalized_offer", Promotion: Promotion{Type: PromoPercentOff}},
	}}
	roi := func(v string, r float64) *stats.ROIOutput {
		return &stats.ROIOutput{Variant: v, Metric: "purchase_revenue", ROI: &r}
	}
	out := &stats.AnalyzeOutput{Alpha: 0.05, Control: "control", Metrics: []stats.MetricOutput{{
		Key: "purchase_revenue",
		Arms: []stats.ArmOutput{
			{Variant: "control", Units: 100, Mean: 10, Variance: 400},
			{Variant: "ten_off", Units: 100, Mean: 12, Variance: 400},
			{Variant: "five_off", Units: 100, Mean: 11, Variance: 100},
			{Variant: "holdout", Units: 100, Mean: 20, Variance: 100},
			{Variant: "personalized_offer", Units: 100, Mean: 15, Variance: 500},
		},
		Comparisons: []stats.ComparisonOutput{
			{Variant: "ten_off", ROI: roi("ten_off", 0.5)},
			{Variant: "five_off", ROI: roi("five_off", 0.25)},
			{Variant: "holdout"},
			{Variant: "personalized_offer", ROI: roi("personalized_offer", 1.5)},
		},
	}}}
	// The same arms as sufficient statistics (revenue = mean × units) for
	// the choice of the best generic promotion.
	ss := &SufficientStats{}
	for _, a := range out.Metrics[0].Arms {
		ss.Variants = append(ss.Variants, VariantCounts{Variant: a.Variant, Units: int64(a.Units)})
		ss.Metrics = append(ss.Metrics, MetricSums{Variant: a.Variant, Metric: "purchase", Converted: 10, Revenue: a.Mean * a.Units})
	}
	generic := bestGeneric(exp, ss, "purchase", "personalized_offer")
	if generic != "ten_off" {
		t.Fatalf("best generic %q, want ten_off", generic)
	}
	pv := personalizationValue(exp, out, "purchase_revenue", "personalized_offer", generic)
	if pv == nil {
		t.Fatal("no personalization value")
	}
	// Best generic promotion: ten_off (RPU 12; holdout is no promotion).
	// Difference 15 − 12 = 3, SE √(400/100 + 500/100) = 3, Welch df
	// 9² / (4²/99 + 5²/99) = 8019/41 ≈ 195.59, t(0.975, 195.59) ≈ 1.97216
	// (Cornish–Fisher), so the CI is 3 ± 5.9165 and the value, × 100
	// personalized units, 300 ± 591.65.
	if pv.BestGeneric != "ten_off" || pv.RevenuePerUnit != 15 || pv.GenericRevenuePerUnit != 12 || pv.Units != 100 || pv.Error != "" {
		t.Fatalf("got %+v", pv)
	}
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.6f, want %.6f", name, got, want)
		}
	}
	near("difference", pv.Difference.Estimate, 3, 1e-12)
	near("difference CI low", pv.Difference.CI[0], 3-3*1.97216, 1e-4)
	near("difference CI high", pv.Difference.CI[1], 3+3*1.97216, 1e-4)
	near("value", pv.Value.Estimate, 300, 1e-9)
	near("value CI low", pv.Value.CI[0], 300-300*1.97216, 1e-2)
	near("value CI high", pv.Value.CI[1], 300+300*1.97216, 1e-2)

	// ROI per arm: the engine's per-comparison ROI, in order.
	rois := armROI(out, "purchase_revenue")
	if len(rois) != 3 || rois[0].Variant != "ten_off" || *rois[0].ROI != 0.5 || rois[1].Variant != "five_off" ||
		rois[2].Variant != "personalized_offer" || *rois[2].ROI != 1.5 {
		t.Errorf("arm ROI %+v", rois)
	}

	// Without a generic promotion arm there is nothing to compare with.
	exp.Variants = []Variant{exp.Variants[0], exp.Variants[3], exp.Variants[4]}
	generic = bestGeneric(exp, ss, "purchase", "personalized_offer")
	if pv := personalizationValue(exp, out, "purchase_revenue", "personalized_offer", generic); pv != nil {
		t.Errorf("no generic promotion: got %+v", pv)
	}
}
