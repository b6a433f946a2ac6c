package stats

import (
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"
)

// checkFile is stats/testdata/checks.json, written by gen_checks.py from an
// independent implementation (mpmath, scipy, statsmodels).
type checkFile struct {
	Checks []struct {
		Method string                     `json:"method"`
		Name   string                     `json:"name"`
		Input  map[string]json.RawMessage `json:"input"`
		Want   map[string]any             `json:"want"`
		Tol    float64                    `json:"tol"`
	} `json:"checks"`
}

// in decodes one input field.
func in[T any](t *testing.T, m map[string]json.RawMessage, k string) T {
	t.Helper()
	var v T
	raw, ok := m[k]
	if !ok {
		t.Fatalf("input %q missing", k)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("input %q: %v", k, err)
	}
	return v
}

// got holds computed values by key: float64, bool, []float64 or an error.
type got map[string]any

func meanArm(v []float64) (Summary, error) { return MeanSummary(v[0], v[1], v[2]) }

func welchPair(t *testing.T, m map[string]json.RawMessage) (Summary, Summary, float64, error) {
	t.Helper()
	a, errA := meanArm(in[[]float64](t, m, "a"))
	b, errB := meanArm(in[[]float64](t, m, "b"))
	alpha := in[float64](t, m, "alpha")
	if errA != nil {
		return a, b, alpha, errA
	}
	return a, b, alpha, errB
}

func effectGot(e Effect) got {
	return got{"estimate": e.Estimate, "se": e.SE, "df": e.DF, "p_value": e.PValue, "ci_lo": e.CI[0], "ci_hi": e.CI[1]}
}

func relGot(r Relative) got {
	return got{"estimate": r.Estimate, "se": r.SE, "df": r.DF, "p_value": r.PValue, "ci_lo": r.CI[0], "ci_hi": r.CI[1],
		"ci_normal_lo": r.CINormal[0], "ci_normal_hi": r.CINormal[1]}
}

// compute runs the Go implementation of one check.
func compute(t *testing.T, method string, m map[string]json.RawMessage) (got, error) {
	t.Helper()
	f := func(k string) float64 { return in[float64](t, m, k) }
	switch method {
	case "normal_sf":
		return got{"p": NormalSF(f("z"))}, nil
	case "t_quantile":
		return got{"q": TwoSidedT(f("alpha"), f("nu"))}, nil
	case "t_sf":
		return got{"p": TSF(f("t"), f("nu"))}, nil
	case "pooled_z":
		z, p, err := PooledZTest(f("na"), f("xa"), f("nb"), f("xb"))
		return got{"z": z, "p": p}, err
	case "wald":
		a, _ := ProportionSummary(f("na"), f("xa"))
		b, _ := ProportionSummary(f("nb"), f("xb"))
		e, err := ZTest(a, b, f("alpha"))
		return effectGot(e), err
	case "welch":
		a, b, alpha, err := welchPair(t, m)
		if err != nil {
			return nil, err
		}
		e, err := WelchTest(a, b, alpha)
		return effectGot(e), err
	case "relative":
		a, b, alpha, err := welchPair(t, m)
		if err != nil {
			return nil, err
		}
		r, err := RelativeLift(a, b, alpha, WelchDF(a, b))
		return relGot(r), err
	case "fieller":
		a, b, alpha, _ := welchPair(t, m)
		ci, g, ok := Fieller(a, b, alpha)
		return got{"lo": ci[0], "hi": ci[1], "g": g, "ok": ok}, nil
	case "beta_binomial":
		r, err := BetaBinomial(f("na"), f("xa"), f("nb"), f("xb"))
		return got{"chance_to_win": r.ChanceToWin, "risk_control": r.RiskControl, "risk_treatment": r.RiskTreatment}, err
	case "gaussian_bayes":
		pr := Prior{Proper: in[bool](t, m, "proper"), Mean: f("mean"), SD: f("sd")}
		p, err := GaussianBayes(f("est"), f("var"), pr, f("alpha"))
		return got{"chance_to_win": p.ChanceToWin, "risk_control": p.RiskControl, "risk_treatment": p.RiskTreatment,
			"ci_lo": p.CI[0], "ci_hi": p.CI[1]}, err
	case "sequential":
		s, err := ConfidenceSequence(f("est"), f("se"), f("n"), f("tuning"), f("alpha"))
		return got{"halfwidth": s.HalfWidth, "p_value": s.PValue}, err
	case "cuped":
		arm := func(k string) CUPEDArm {
			v := in[[]float64](t, m, k)
			return CUPEDArm{N: v[0], Sum: v[1], SumSquares: v[2], PreSum: v[3], PreSumSquares: v[4], CrossSum: v[5]}
		}
		r, err := CUPED(arm("a"), arm("b"), f("alpha"))
		g := effectGot(r.Absolute)
		g["theta"], g["variance_reduction"] = r.Theta, r.VarianceReduction
		g["rel_estimate"], g["rel_se"] = r.Relative.Estimate, r.Relative.SE
		return g, err
	case "srm":
		r := SRM(in[[]float64](t, m, "observed"), in[[]float64](t, m, "weights"))
		return got{"chi2": r.Chi2, "df": r.DF, "p_value": r.PValue, "flagged": r.Flagged}, nil
	case "holm":
		return got{"adjusted": Holm(in[[]float64](t, m, "p"))}, nil
	case "bh":
		return got{"adjusted": BenjaminiHochberg(in[[]float64](t, m, "p"))}, nil
	case "sample_size_prop":
		n, err := SampleSizeProportions(f("p1"), f("p2"), f("alpha"), f("power"))
		return got{"n": n}, err
	case "sample_size_mean":
		n, err := SampleSizeMeans(f("sigma"), f("delta"), f("alpha"), f("power"))
		return got{"n": n}, err
	case "mde_prop":
		v, err := MDEProportion(f("p"), f("n"), f("alpha"), f("power"))
		return got{"mde": v}, err
	case "mde_mean":
		v, err := MDEMean(f("sigma"), f("n"), f("alpha"), f("power"))
		return got{"mde": v}, err
	case "plan":
		raw, _ := json.Marshal(m)
		var pin PlanInput
		if err := json.Unmarshal(raw, &pin); err != nil {
			t.Fatal(err)
		}
		o, err := Plan(pin)
		g := got{"n_per_variant": o.NPerVariant, "n_total": o.NTotal, "mde_absolute": o.MDEAbsolute}
		if o.MDERelative != nil {
			g["mde_relative"] = *o.MDERelative
		}
		return g, err
	case "ratio":
		arm := func(k string) (Summary, error) {
			v := in[[]float64](t, m, k)
			return RatioSummary(v[0], v[1], v[2], v[3], v[4], v[5])
		}
		a, err := arm("a")
		if err != nil {
			return nil, err
		}
		b, err := arm("b")
		if err != nil {
			return nil, err
		}
		e, err := WelchTest(a, b, f("alpha"))
		g := effectGot(e)
		g["ratio_a"], g["ratio_b"], g["var_a"], g["var_b"] = a.Mean, b.Mean, a.Variance, b.Variance
		return g, err
	case "roi":
		a, b, alpha, _ := welchPair(t, m)
		e, _ := WelchTest(a, b, alpha)
		r, err := ROI(e, f("n_t"), f("cost"))
		return got{"incremental_revenue": r.IncrementalRevenue, "net": r.Net, "roi": r.ROI, "roi_percent": r.ROIPercent,
			"ci_lo": r.CI[0], "ci_hi": r.CI[1]}, err
	case "one_sided_welch", "one_sided_pooled_z", "sequential_one_sided", "cuped_proportion", "ratio_cuped",
		"post_strat", "quantile", "power", "bayes_absolute":
		return computeDepth(t, method, m)
	case "personalization":
		arm := func(k string) Summary {
			v := in[[]float64](t, m, k)
			s, _ := ProportionSummary(v[0], v[1])
			return s
		}
		r, err := PersonalizationLift(arm("generic"), arm("personalized"), f("alpha"))
		return relGot(r), err
	}
	t.Fatalf("unknown method %q", method)
	return nil, nil
}

// relErr is |g−w|/|w| (absolute error when w = 0).
func relErr(g, w float64) float64 {
	if g == w {
		return 0
	}
	if w == 0 {
		return math.Abs(g)
	}
	return math.Abs(g-w) / math.Abs(w)
}

// TestChecks compares every function with the independent check values.
func TestChecks(t *testing.T) {
	var cf checkFile
	for _, name := range []string{"testdata/checks.json", "testdata/depth_checks.json"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f checkFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cf.Checks = append(cf.Checks, f.Checks...)
	}
	counts := map[string]int{}
	worst := map[string]float64{}
	total := 0
	for _, c := range cf.Checks {
		t.Run(c.Method+"/"+c.Name, func(t *testing.T) {
			g, err := compute(t, c.Method, c.Input)
			if want, ok := c.Want["error"]; ok {
				if err == nil || err.Error() != want {
					t.Errorf("error = %v, want %v", err, want)
				}
				counts[c.Method]++
				total++
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			keys := make([]string, 0, len(c.Want))
			for k := range c.Want {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k == "error" {
					continue
				}
				w := c.Want[k]
				gv, ok := g[k]
				if !ok {
					t.Errorf("%s: not computed", k)
					continue
				}
				switch wv := w.(type) {
				case bool:
					if gv != wv {
						t.Errorf("%s = %v, want %v", k, gv, wv)
					}
					counts[c.Method]++
					total++
				case float64:
					e := relErr(gv.(float64), wv)
					worst[c.Method] = math.Max(worst[c.Method], e)
					if e > c.Tol || math.IsNaN(e) {
						t.Errorf("%s = %.17g, want %.17g (rel err %.3g > %.0e)", k, gv, wv, e, c.Tol)
					}
					counts[c.Method]++
					total++
				case []any:
					gs := gv.([]float64)
					if len(gs) != len(wv) {
						t.Fatalf("%s: len %d, want %d", k, len(gs), len(wv))
					}
					for i := range wv {
						e := relErr(gs[i], wv[i].(float64))
						worst[c.Method] = math.Max(worst[c.Method], e)
						if e > c.Tol {
							t.Errorf("%s[%d] = %.17g, want %.17g (rel err %.3g)", k, i, gs[i], wv[i], e)
						}
						counts[c.Method]++
						total++
					}
				default:
					t.Fatalf("%s: unsupported want %T", k, w)
				}
			}
		})
	}
	methods := make([]string, 0, len(counts))
	for m := range counts {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	var all float64
	for _, m := range methods {
		t.Logf("%-18s %4d check values, worst relative error %.3g", m, counts[m], worst[m])
		all = math.Max(all, worst[m])
	}
	t.Logf("total %d check values, worst relative error %.3g", total, all)
	if total < 400 {
		t.Errorf("only %d check values, want >= 400", total)
	}
}
