package stats_test

import (
	"fmt"
	"math"
	"strings"

	"github.com/promolift/promolift/stats"
)

func ExampleWelchTest() {
	// Revenue per customer: n, Σy, Σy² per arm.
	a, _ := stats.MeanSummary(10000, 500000, 4.1e7)
	b, _ := stats.MeanSummary(10000, 550000, 4.6e7)
	e, _ := stats.WelchTest(a, b, 0.05)
	fmt.Printf("diff %.2f se %.4f df %.1f p %.3g CI [%.3f, %.3f]\n", e.Estimate, e.SE, e.DF, e.PValue, e.CI[0], e.CI[1])
	// Output:
	// diff 5.00 se 0.5635 df 19996.8 p 7.7e-19 CI [3.895, 6.105]
}

func ExamplePooledZTest() {
	z, p, _ := stats.PooledZTest(10000, 1000, 10000, 1100)
	fmt.Printf("z %.4f p %.5f\n", z, p)
	// Output:
	// z 2.3066 p 0.02108
}

func ExampleRelativeLift() {
	a, _ := stats.ProportionSummary(10000, 1000)
	b, _ := stats.ProportionSummary(10000, 1100)
	r, _ := stats.RelativeLift(a, b, 0.05, stats.WelchDF(a, b))
	fmt.Printf("lift %.3f CI [%.4f, %.4f] Fieller [%.4f, %.4f]\n", r.Estimate, r.CI[0], r.CI[1], r.FiellerCI[0], r.FiellerCI[1])
	// Output:
	// lift 0.100 CI [0.0109, 0.1891] Fieller [0.0145, 0.1932]
}

func ExampleBetaBinomial() {
	r, _ := stats.BetaBinomial(1000, 100, 1000, 120)
	fmt.Printf("P(B>A) %.4f risk(ship B) %.6f risk(keep A) %.6f\n", r.ChanceToWin, r.RiskTreatment, r.RiskControl)
	// Output:
	// P(B>A) 0.9232 risk(ship B) 0.000485 risk(keep A) 0.020445
}

func ExampleGaussianBayes() {
	p, _ := stats.GaussianBayes(0.1, 0.045*0.045, stats.Prior{}, 0.05)
	fmt.Printf("chance %.4f risk %.5f/%.5f CI [%.4f, %.4f]\n", p.ChanceToWin, p.RiskControl, p.RiskTreatment, p.CI[0], p.CI[1])
	// Output:
	// chance 0.9869 risk 0.10021/0.00021 CI [0.0118, 0.1882]
}

func ExampleConfidenceSequence() {
	s, _ := stats.ConfidenceSequence(0.01, 0.0043, 20000, 5000, 0.05)
	fmt.Printf("halfwidth %.5f p %.4f\n", s.HalfWidth, s.PValue)
	// Output:
	// halfwidth 0.01345 p 0.4159
}

func ExampleCUPED() {
	a := stats.CUPEDArm{N: 1000, Sum: 50000, SumSquares: 4.1e6, PreSum: 48000, PreSumSquares: 3.9e6, CrossSum: 3.7e6}
	b := stats.CUPEDArm{N: 1000, Sum: 53000, SumSquares: 4.5e6, PreSum: 48500, PreSumSquares: 3.95e6, CrossSum: 3.95e6}
	r, _ := stats.CUPED(a, b, 0.05)
	fmt.Printf("theta %.4f diff %.3f se %.4f variance reduction %.3f\n", r.Theta, r.Absolute.Estimate, r.Absolute.SE, r.VarianceReduction)
	// Output:
	// theta 0.8392 diff 2.580 se 1.0218 variance reduction 0.683
}

func ExampleSRM() {
	r := stats.SRM([]float64{5100, 4900}, []float64{0.5, 0.5})
	fmt.Printf("chi2 %.1f p %.4f flagged %v\n", r.Chi2, r.PValue, r.Flagged)
	// Output:
	// chi2 4.0 p 0.0455 flagged false
}

func ExampleHolm() {
	p := []float64{0.01, 0.04, 0.03, 0.005}
	fmt.Println(stats.Holm(p), stats.BenjaminiHochberg(p))
	// Output:
	// [0.03 0.06 0.06 0.02] [0.02 0.04 0.04 0.02]
}

func ExampleSampleSizeProportions() {
	n, _ := stats.SampleSizeProportions(0.1, 0.11, 0.05, 0.8)
	fmt.Printf("%.0f per arm\n", math.Ceil(n))
	// Output:
	// 14751 per arm
}

func ExampleROI() {
	a, _ := stats.MeanSummary(10000, 500000, 4.1e7)
	b, _ := stats.MeanSummary(10000, 550000, 4.6e7)
	e, _ := stats.WelchTest(a, b, 0.05)
	r, _ := stats.ROI(e, 10000, 20000)
	fmt.Printf("incremental %.0f net %.0f ROI %.0f%% CI [%.3f, %.3f]\n", r.IncrementalRevenue, r.Net, r.ROIPercent, r.CI[0], r.CI[1])
	// Output:
	// incremental 50000 net 30000 ROI 150% CI [0.948, 2.052]
}

func ExampleAnalyze() {
	in, err := stats.DecodeAnalyzeInput(strings.NewReader(`{
	  "alpha": 0.05, "control": "control",
	  "variants": [{"key": "control", "weight": 0.5, "units": 10000},
	               {"key": "ten_off", "weight": 0.5, "units": 10000, "promotion_cost": 20000}],
	  "metrics": [{"key": "purchase", "type": "proportion", "role": "primary",
	               "stats": {"control": {"sum": 1000}, "ten_off": {"sum": 1100}}}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := stats.Analyze(in)
	c := out.Metrics[0].Comparisons[0]
	fmt.Printf("%s: lift %.1f%%, p %.4f, significant %v, SRM p %.2f\n",
		c.Variant, 100*c.Relative.Estimate, c.AdjustedPValue, c.Significant, out.SRM.PValue)
	// Output:
	// ten_off: lift 10.0%, p 0.0211, significant true, SRM p 1.00
}

func ExamplePlan() {
	base, treat := 0.1, 0.11
	out, _ := stats.Plan(stats.PlanInput{Metric: "proportion", Baseline: &base, Treatment: &treat})
	fmt.Printf("n_per_variant %.0f n_total %.0f mde_relative %.2f\n", out.NPerVariant, out.NTotal, *out.MDERelative)
	// Output:
	// n_per_variant 14751 n_total 29502 mde_relative 0.10
}

func ExampleValidationError() {
	_, err := stats.Analyze(stats.AnalyzeInput{Control: "a", Variants: []stats.VariantInput{{Key: "a", Weight: 1}, {Key: "b", Weight: 1, Units: -3}}})
	fmt.Println(err)
	// Output:
	// variants[1].units: must be >= 0
}
