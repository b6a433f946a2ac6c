package experiments_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

// settingsReport seeds the three-arm dataset with opts applied to the
// experiment and returns its report.
func settingsReport(t *testing.T, opts ...func(*experiments.Experiment)) *experiments.Report {
	t.Helper()
	svc := newReportService(t)
	seedReport(t, svc, "spring-sale", [3]float64{0.10, 0.14, 0.18}, 1500, opts...)
	r, err := svc.Report(context.Background(), "spring-sale", experiments.ReportOptions{NoSeries: true, NoBreakdowns: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func purchaseComparison(t *testing.T, r *experiments.Report, metric, variant string) (*stats.MetricOutput, *stats.ComparisonOutput) {
	t.Helper()
	for i := range r.Analysis.Metrics {
		m := &r.Analysis.Metrics[i]
		if m.Key != metric {
			continue
		}
		for j := range m.Comparisons {
			if m.Comparisons[j].Variant == variant {
				return m, &m.Comparisons[j]
			}
		}
	}
	t.Fatalf("no comparison %s/%s", metric, variant)
	return nil, nil
}

// TestReportExperimentAnalysisSettings checks that the experiment's
// alternative, lower_is_better_metrics and planned_mde reach the report's
// stats.Analyze input and change its p-values, directions, decision and
// power.
func TestReportExperimentAnalysisSettings(t *testing.T) {
	base := settingsReport(t)
	_, bc := purchaseComparison(t, base, "purchase", "ten_off")
	if !(bc.Absolute.Estimate > 0) {
		t.Fatalf("the dataset needs a positive lift, got %v", bc.Absolute.Estimate)
	}
	t.Run("alternative greater halves the pooled z p-value of a positive lift", func(t *testing.T) {
		r := settingsReport(t, func(x *experiments.Experiment) { x.Alternative = "greater" })
		in := mustJSON(t, r.AnalyzeInput())
		if !bytes.Contains(in, []byte(`"alternative":"greater"`)) {
			t.Fatalf("analyze input carries no alternative greater: %s", in)
		}
		_, c := purchaseComparison(t, r, "purchase", "ten_off")
		if !(c.Absolute.PValue < bc.Absolute.PValue) {
			t.Fatalf("greater p = %v, two-sided p = %v: want smaller", c.Absolute.PValue, bc.Absolute.PValue)
		}
		// For the pooled z test P(Z > z) is half of 2·P(Z > |z|) when z > 0.
		if math.Abs(c.Absolute.PValue-bc.Absolute.PValue/2) > 1e-12*bc.Absolute.PValue {
			t.Fatalf("greater p = %.17g, two-sided p / 2 = %.17g", c.Absolute.PValue, bc.Absolute.PValue/2)
		}
		if r.Analysis.Alternative != "greater" {
			t.Fatalf("analysis alternative %q", r.Analysis.Alternative)
		}
	})
	t.Run("lower_is_better_metrics flips the primary's direction and decision", func(t *testing.T) {
		bm, _ := purchaseComparison(t, base, "purchase", "personalized_offer")
		_, bsig := purchaseComparison(t, base, "purchase", "personalized_offer")
		if bm.LowerIsBetter || !bsig.Significant || bsig.Direction != "better" {
			t.Fatalf("base: lower_is_better %v, significant %v, direction %s", bm.LowerIsBetter, bsig.Significant, bsig.Direction)
		}
		r := settingsReport(t, func(x *experiments.Experiment) { x.LowerIsBetterMetrics = []string{"purchase"} })
		m, c := purchaseComparison(t, r, "purchase", "personalized_offer")
		if !m.LowerIsBetter || c.Direction != "worse" {
			t.Fatalf("lower_is_better %v, direction %s; want true, worse", m.LowerIsBetter, c.Direction)
		}
		if base.Decision.Code == "primary_negative" || r.Decision.Code != "primary_negative" {
			t.Fatalf("decision %s → %s; want a lift of a lower-is-better primary to be primary_negative", base.Decision.Code, r.Decision.Code)
		}
	})
	t.Run("planned_mde is the power's MDE", func(t *testing.T) {
		r := settingsReport(t, func(x *experiments.Experiment) { x.PlannedMDE = 0.5 })
		_, c := purchaseComparison(t, r, "add_to_cart", "ten_off")
		_, b := purchaseComparison(t, base, "add_to_cart", "ten_off")
		if c.Power == nil || b.Power == nil {
			t.Fatal("no power")
		}
		if b.Power.MDERelative != experiments.DefaultDecisionMDE || c.Power.MDERelative != 0.5 {
			t.Fatalf("mde %v / %v; want %v / 0.5", b.Power.MDERelative, c.Power.MDERelative, experiments.DefaultDecisionMDE)
		}
		if !(c.Power.Power > b.Power.Power) {
			t.Fatalf("power at MDE 50%% %v not above power at 5%% %v", c.Power.Power, b.Power.Power)
		}
		if b.Power.DaysNeeded == nil || c.Power.DaysNeeded != nil && !(*c.Power.DaysNeeded < *b.Power.DaysNeeded) {
			t.Fatalf("days needed %v (5%%) → %v (50%%)", b.Power.DaysNeeded, c.Power.DaysNeeded)
		}
	})
}

// TestReportOneSidedKeepsGuardrailsTwoSided checks that a one-sided
// alternative does not hide a guardrail's harm in the direction it does
// not test: purchase, made a lower-is-better guardrail, rises for
// personalized_offer, which "less" cannot find significant, yet the
// decision still stops on the guardrail.
func TestReportOneSidedKeepsGuardrailsTwoSided(t *testing.T) {
	guard := func(x *experiments.Experiment) {
		x.PrimaryMetric, x.SecondaryMetrics = "add_to_cart", nil
		x.GuardrailMetrics, x.LowerIsBetterMetrics = []string{"purchase"}, []string{"purchase"}
	}
	base := settingsReport(t, guard)
	if base.Decision.Code != "guardrail_hurt" {
		t.Fatalf("two-sided decision %s (%s); the dataset needs a hurt guardrail", base.Decision.Code, base.Decision.Reason)
	}
	r := settingsReport(t, guard, func(x *experiments.Experiment) { x.Alternative = "less" })
	_, c := purchaseComparison(t, r, "purchase", base.Decision.Variant)
	if c.Absolute.PValue < 0.5 {
		t.Fatalf("one-sided p of a rise = %v; want the rise untestable by less", c.Absolute.PValue)
	}
	if r.Decision.Code != "guardrail_hurt" || r.Decision.Variant != base.Decision.Variant {
		t.Fatalf("less: decision %s for %s (%s); want guardrail_hurt for %s", r.Decision.Code, r.Decision.Variant, r.Decision.Reason, base.Decision.Variant)
	}
}
