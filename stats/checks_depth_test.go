package stats

import (
	"encoding/json"
	"math"
	"testing"
)

// analyzeTwoArms runs Analyze on one metric of a control "a" and a
// treatment "b" and returns the comparison.
func analyzeTwoArms(t *testing.T, alpha float64, m MetricInput) ComparisonOutput {
	t.Helper()
	units := map[string]float64{}
	for _, st := range m.Strata {
		for k, s := range st {
			units[k] += *s.Units
		}
	}
	for k, s := range m.Stats {
		if s.Units != nil {
			units[k] = *s.Units
		}
	}
	in := AnalyzeInput{Alpha: &alpha, Control: "a", Correction: "none", Metrics: []MetricInput{m},
		Variants: []VariantInput{{Key: "a", Weight: 1, Units: units["a"]}, {Key: "b", Weight: 1, Units: units["b"]}}}
	out, err := Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	return out.Metrics[0].Comparisons[0]
}

// computeDepth runs the Go implementation of the checks of gen_depth.py.
func computeDepth(t *testing.T, method string, m map[string]json.RawMessage) (got, error) {
	t.Helper()
	f := func(k string) float64 { return in[float64](t, m, k) }
	alt := func() string { return in[string](t, m, "alternative") }
	switch method {
	case "one_sided_welch":
		a, b, alpha, err := welchPair(t, m)
		if err != nil {
			return nil, err
		}
		e, _ := WelchTest(a, b, alpha)
		r, _ := RelativeLift(a, b, alpha, WelchDF(a, b))
		side := 0
		if alt() == AltLess {
			side = 1
		}
		return got{"p": OneSidedP(e.Estimate/e.SE, e.DF, alt()), "rel_p": OneSidedP(r.Estimate/r.SE, r.DF, alt()),
			"bound":     OneSidedInterval(e.Estimate, e.SE, e.DF, alpha, alt())[side],
			"rel_bound": OneSidedInterval(r.Estimate, r.SE, r.DF, alpha, alt())[side]}, nil
	case "one_sided_pooled_z":
		z, _, err := PooledZTest(f("na"), f("xa"), f("nb"), f("xb"))
		return got{"p": OneSidedP(z, math.Inf(1), alt())}, err
	case "sequential_one_sided":
		s, err := ConfidenceSequenceOneSided(f("est"), f("se"), f("n"), f("tuning"), f("alpha"), alt())
		return got{"halfwidth": s.HalfWidth, "p_value": s.PValue}, err
	case "cuped_proportion":
		arm := func(k string) CUPEDArm {
			v := in[[]float64](t, m, k)
			return CUPEDArm{N: v[0], Sum: v[1], SumSquares: v[1], PreSum: v[2], PreSumSquares: v[3], CrossSum: v[4], Binary: true}
		}
		r, err := CUPED(arm("a"), arm("b"), f("alpha"))
		g := effectGot(r.Absolute)
		delete(g, "df")
		g["theta"], g["variance_reduction"] = r.Theta, r.VarianceReduction
		g["rel_estimate"], g["rel_se"] = r.Relative.Estimate, r.Relative.SE
		return g, err
	case "ratio_cuped":
		arm := func(k string) RatioCUPEDArm {
			v := in[map[string]float64](t, m, k)
			return RatioCUPEDArm{N: v["n"], M: v["M"], MM: v["MM"], D: v["D"], DD: v["DD"], MD: v["MD"],
				X: v["X"], XX: v["XX"], E: v["E"], EE: v["EE"], MX: v["MX"], DE: v["DE"], XE: v["XE"], ME: v["ME"], XD: v["XD"]}
		}
		r, err := RatioCUPED(arm("a"), arm("b"), f("alpha"))
		g := effectGot(r.Absolute)
		g["theta"], g["variance_reduction"] = r.Theta, r.VarianceReduction
		g["rel_estimate"], g["rel_se"], g["rel_p_value"] = r.Relative.Estimate, r.Relative.SE, r.Relative.PValue
		return g, err
	case "post_strat":
		mi := MetricInput{Key: "m", Type: in[string](t, m, "type"), Strata: in[map[string]map[string]ArmStats](t, m, "strata")}
		c := analyzeTwoArms(t, f("alpha"), mi)
		if c.Absolute.Method != "post_stratified_z" || c.Relative == nil {
			t.Fatalf("method %q, relative %v", c.Absolute.Method, c.Relative)
		}
		return got{"estimate": c.Absolute.Estimate, "se": c.Absolute.SE, "p_value": c.Absolute.PValue,
			"ci_lo": c.Absolute.CI[0], "ci_hi": c.Absolute.CI[1], "rel_estimate": c.Relative.Estimate, "rel_se": c.Relative.SE,
			"rel_ci_lo": c.Relative.CI[0], "rel_ci_hi": c.Relative.CI[1]}, nil
	case "quantile":
		q := f("quantile")
		mi := MetricInput{Key: "m", Type: "quantile", Quantile: &q,
			Stats: map[string]ArmStats{"a": in[ArmStats](t, m, "a"), "b": in[ArmStats](t, m, "b")}}
		c := analyzeTwoArms(t, f("alpha"), mi)
		g := got{"estimate": c.Absolute.Estimate, "se": c.Absolute.SE, "p_value": c.Absolute.PValue,
			"ci_lo": c.Absolute.CI[0], "ci_hi": c.Absolute.CI[1]}
		if c.Absolute.DF != nil {
			g["df"] = *c.Absolute.DF
		}
		return g, errOf(c.Error)
	case "power":
		e := PowerEngine{Engine: in[string](t, m, "engine"), Alternative: alt(), Alpha: f("alpha"), Tuning: f("tuning")}
		if sd := f("prior_sd"); sd > 0 {
			e.Prior = Prior{Proper: true, Mean: f("prior_mean"), SD: sd}
		}
		k, ok := PowerScale(f("mde"), f("se"), f("n"), f("target"), e)
		if !ok {
			t.Fatal("target power not reachable")
		}
		return got{"power": PowerDuringTest(f("mde"), f("se"), f("n"), e), "scale": k}, nil
	case "bayes_absolute":
		// The analyze convention: the relative prior N(μ0, σ0²) becomes
		// N(μ0·|m_a|, (σ0·|m_a|)²) on the absolute difference.
		pr := Prior{}
		if sd := f("prior_sd"); sd > 0 {
			s := math.Abs(f("control_mean"))
			pr = Prior{Proper: true, Mean: f("prior_mean") * s, SD: sd * s}
		}
		p, err := GaussianBayes(f("est"), f("se")*f("se"), pr, f("alpha"))
		return got{"chance_to_win": p.ChanceToWin, "risk_control": p.RiskControl, "risk_treatment": p.RiskTreatment,
			"mean": p.Mean, "sd": p.SD, "ci_lo": p.CI[0], "ci_hi": p.CI[1]}, err
	}
	t.Fatalf("unknown method %q", method)
	return nil, nil
}

func errOf(s *string) error {
	if s == nil {
		return nil
	}
	return ErrorCode(*s)
}
