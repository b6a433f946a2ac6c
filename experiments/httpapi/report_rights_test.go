package httpapi

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

// TestReportPageRightsAndPersonalization renders the budget, frequency
// cap, ROI per arm and personalization value parts of the report page.
func TestReportPageRightsAndPersonalization(t *testing.T) {
	roi, capped := 0.5, int64(7)
	r := &experiments.Report{
		Experiment: &experiments.Experiment{Key: "p", Personalization: true, Variants: []experiments.Variant{
			{Key: "control"}, {Key: "ten_off"}, {Key: "personalized_offer"}}},
		GeneratedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Currency: "USD",
		Spend: []experiments.VariantBudget{{Variant: "control"},
			{Variant: "ten_off", Spent: 12345, Budget: 10000, Exhausted: true},
			{Variant: "personalized_offer", Spent: 500, Budget: 10000}},
		CappedUnits: &capped,
		ArmROI: []stats.ROIOutput{{Variant: "personalized_offer", Metric: "purchase_revenue", ROI: &roi, Net: 2500, Cost: 5000,
			IncrementalRevenue: 7500}},
		// The comparison the ROI comes from (an estimated difference).
		Analysis: stats.AnalyzeOutput{Control: "control", Metrics: []stats.MetricOutput{{Key: "purchase_revenue",
			Comparisons: []stats.ComparisonOutput{{Variant: "personalized_offer", Absolute: stats.AbsoluteOutput{Method: "welch_t"}}}}}},
		PersonalizationValue: &experiments.PersonalizationValue{Personalized: "personalized_offer", BestGeneric: "ten_off",
			Metric: "purchase_revenue", RevenuePerUnit: 1500, GenericRevenuePerUnit: 1200, Units: 100,
			Difference: experiments.Interval{Estimate: 300, CI: [2]float64{-100, 700}},
			Value:      experiments.Interval{Estimate: 30000, CI: [2]float64{-10000, 70000}}},
	}
	resp := NewReportResponse(r)
	if len(resp.Spend) != 3 || resp.Spend[0].Budget != nil || !resp.Spend[1].BudgetExhausted || *resp.Spend[1].Budget != 10000 ||
		resp.CappedUnits == nil || *resp.CappedUnits != 7 || resp.PersonalizationValue == nil || resp.PersonalizationValue.Value.Estimate != 30000 {
		t.Fatalf("response %+v %+v %+v", resp.Spend, resp.CappedUnits, resp.PersonalizationValue)
	}
	d := buildPage(r, &url.URL{Path: "/reports/p"})
	d.CSS = reportCSS
	var b bytes.Buffer
	if err := reportTemplates.ExecuteTemplate(&b, "report", d); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"123.45 USD", "budget exhausted", "within budget", "no budget", `id="capped-units"`, "<strong>7</strong>",
		`class="arm-roi"`, "50.0%", "25.00 USD", `id="personalization-value"`, "300.00 USD", "[-100.00 USD, 700.00 USD]"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
