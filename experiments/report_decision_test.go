package experiments_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

// thresholdCase is one case of testdata/decision_thresholds.json: counts and
// the p-value python's erfc gives them (decision_thresholds.py).
type thresholdCase struct {
	N         float64 `json:"n"`
	Control   float64 `json:"control"`
	Treatment float64 `json:"treatment"`
	P         float64 `json:"p"`
}

func thresholdCases(t *testing.T) map[string]thresholdCase {
	t.Helper()
	b, err := os.ReadFile("testdata/decision_thresholds.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs map[string]thresholdCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

// near fails unless got is within a relative 1e-9 of want.
func nearP(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(want, 1e-300) {
		t.Fatalf("%s: p = %.17g, the independent value is %.17g", what, got, want)
	}
}

// TestDecisionThresholds pins each boundary of the decision rules: the ROI
// target is met at equality, a guardrail harms only below alpha (not 2α),
// SRM is flagged below 1e-3 (not 1e-4). Each case fails when its boundary
// moves.
func TestDecisionThresholds(t *testing.T) {
	cs := thresholdCases(t)
	exp := func(minROI float64) *experiments.Experiment {
		return &experiments.Experiment{Key: "e", PrimaryMetric: "purchase", MinROI: minROI,
			Variants: []experiments.Variant{{Key: "control"}, {Key: "ten_off"}}}
	}
	t.Run("roi exactly at target ships", func(t *testing.T) {
		out := analyzeFor(t, 10000, 10000, 1000, 1300, 5000, 5000, 100000, 100, 100)
		if out.ROI == nil || out.ROI.ROI == nil {
			t.Fatalf("no ROI: %+v", out.ROI)
		}
		at := *out.ROI.ROI
		if d := experiments.Decide(exp(at), &out, 7); d.Code != "ship" {
			t.Fatalf("ROI %v at target %v: %s (%s), want ship", at, at, d.Code, d.Reason)
		}
		above := math.Nextafter(at, math.Inf(1))
		if d := experiments.Decide(exp(above), &out, 7); d.Code != "roi_below_target" {
			t.Fatalf("ROI %v below target %v: %s (%s), want roi_below_target", at, above, d.Code, d.Reason)
		}
	})
	for _, c := range []struct {
		name string
		code string // the code the decision must (hurt) or must not have
		hurt bool
	}{
		{"guardrail_between_alpha_and_2alpha", "guardrail_hurt", false},
		{"guardrail_below_alpha", "guardrail_hurt", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := cs[c.name]
			out := analyzeFor(t, tc.N, tc.N, 1000, 1300, 5000, 5000, 100000, tc.Control, tc.Treatment)
			g := out.Metrics[2].Comparisons[0]
			nearP(t, "guardrail", g.Absolute.PValue, tc.P)
			d := experiments.Decide(exp(0), &out, 7)
			if (d.Code == c.code) != c.hurt {
				t.Fatalf("guardrail p = %.4g: decision %s (%s); hurt expected: %v", tc.P, d.Code, d.Reason, c.hurt)
			}
		})
	}
	t.Run("srm_between_1e-4_and_1e-3", func(t *testing.T) {
		tc := cs["srm_between_1e-4_and_1e-3"]
		out := analyzeFor(t, tc.Control, tc.Treatment, 1000, 1049, 5000, 5000, 100000, 100, 100)
		nearP(t, "srm", out.SRM.PValue, tc.P)
		if d := experiments.Decide(exp(0), &out, 7); d.Code != "srm" {
			t.Fatalf("SRM p = %.3g: decision %s (%s), want srm", tc.P, d.Code, d.Reason)
		}
	})
}

// sequentialFor is analyzeFor's experiment analysed by the sequential
// engine.
func sequentialFor(t *testing.T, xc, xt, gc, gt float64) stats.AnalyzeOutput {
	t.Helper()
	in := stats.AnalyzeInput{Control: "control", Engine: "sequential",
		Variants: []stats.VariantInput{{Key: "control", Weight: 0.5, Units: 10000}, {Key: "ten_off", Weight: 0.5, Units: 10000}},
		Metrics: []stats.MetricInput{
			{Key: "purchase", Type: "proportion", Role: "primary", Stats: map[string]stats.ArmStats{"control": {Sum: xc}, "ten_off": {Sum: xt}}},
			{Key: "refund", Type: "proportion", Role: "guardrail", Stats: map[string]stats.ArmStats{"control": {Sum: gc}, "ten_off": {Sum: gt}}},
		}}
	out, err := stats.Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecideUsesSequentialPValue: with the sequential engine a difference
// the fixed-horizon test calls significant but the always-valid p-value
// does not is neither shipped nor a guardrail harm.
func TestDecideUsesSequentialPValue(t *testing.T) {
	exp := &experiments.Experiment{Key: "e", PrimaryMetric: "purchase", Engine: "sequential",
		Variants: []experiments.Variant{{Key: "control"}, {Key: "ten_off"}}}
	for _, c := range []struct {
		name           string
		xc, xt, gc, gt float64
		metric         int
		notCode        string
	}{
		{"primary", 1000, 1090, 100, 100, 0, "ship"},
		{"guardrail", 1000, 1000, 100, 133, 1, "guardrail_hurt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := sequentialFor(t, c.xc, c.xt, c.gc, c.gt)
			cmp := out.Metrics[c.metric].Comparisons[0]
			if cmp.Sequential == nil || !(cmp.Absolute.PValue < 0.05) || !(cmp.Sequential.PValue >= 0.05) {
				t.Fatalf("want fixed p < 0.05 <= sequential p, got %+v / %+v", cmp.Absolute, cmp.Sequential)
			}
			if d := experiments.Decide(exp, &out, 7); d.Code == c.notCode {
				t.Fatalf("decision %s (%s) from the fixed-horizon p = %.3g; the sequential p is %.3g",
					d.Code, d.Reason, cmp.Absolute.PValue, cmp.Sequential.PValue)
			}
		})
	}
}

// TestDecideHeadlinePicksLargestLift: of two significantly better arms the
// decision and the headline are about the one with the larger lift,
// whichever comes first.
func TestDecideHeadlinePicksLargestLift(t *testing.T) {
	for _, order := range [][2]string{{"small", "large"}, {"large", "small"}} {
		t.Run(order[0]+" first", func(t *testing.T) {
			conv := map[string]float64{"control": 1000, "small": 1200, "large": 1500}
			in := stats.AnalyzeInput{Control: "control", Variants: []stats.VariantInput{{Key: "control", Weight: 1.0 / 3, Units: 10000}}}
			st := map[string]stats.ArmStats{"control": {Sum: conv["control"]}}
			vars := []experiments.Variant{{Key: "control"}}
			for _, v := range order {
				in.Variants = append(in.Variants, stats.VariantInput{Key: v, Weight: 1.0 / 3, Units: 10000})
				st[v] = stats.ArmStats{Sum: conv[v]}
				vars = append(vars, experiments.Variant{Key: v})
			}
			in.Metrics = []stats.MetricInput{{Key: "purchase", Type: "proportion", Role: "primary", Stats: st}}
			out, err := stats.Analyze(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range out.Metrics[0].Comparisons {
				if !c.Significant {
					t.Fatalf("%s not significant: %+v", c.Variant, c)
				}
			}
			d := experiments.Decide(&experiments.Experiment{PrimaryMetric: "purchase", Variants: vars}, &out, 7)
			if d.Variant != "large" || d.Code != "ship" {
				t.Fatalf("decision about %s (%s), want ship large", d.Variant, d.Code)
			}
		})
	}
}
