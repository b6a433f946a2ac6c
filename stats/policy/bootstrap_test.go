package policy

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// TestResampleMoments draws resamples of the sufficient statistics of
// testdata/bootstrap.checks.json and compares their first two moments with
// those of the unit-level Poisson bootstrap, computed by
// testdata/gen_bootstrap.py from the units themselves, each within 4.5 of
// its standard errors (of a sample covariance: √((σ_a²σ_b² + σ_ab²)/R), as
// for normal draws).
func TestResampleMoments(t *testing.T) {
	data, err := os.ReadFile("testdata/bootstrap.checks.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name    string
		Suff    struct{ N, S, Q, X, C float64 }
		Moments struct {
			MeanN float64 `json:"mean_n"`
			VarN  float64 `json:"var_n"`
			MeanS float64 `json:"mean_s"`
			VarS  float64 `json:"var_s"`
			CovNS float64 `json:"cov_n_s"`
			MeanQ float64 `json:"mean_q"`
			MeanX float64 `json:"mean_x"`
			VarX  float64 `json:"var_x"`
			CovNX float64 `json:"cov_n_x"`
			MeanC float64 `json:"mean_c"`
		}
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	const draws = 20000
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			s := suff{n: tc.Suff.N, s: tc.Suff.S, q: tc.Suff.Q, x: tc.Suff.X, c: tc.Suff.C}
			r := rand.New(rand.NewPCG(1, 2))
			n, sum, q, x, c := make([]float64, draws), make([]float64, draws), make([]float64, draws), make([]float64, draws), make([]float64, draws)
			for i := range n {
				o := resampleSuff(r, s)
				n[i], sum[i], q[i], x[i], c[i] = o.n, o.s, o.q, o.x, o.c
			}
			m := tc.Moments
			for _, mc := range []struct {
				name       string
				xs         []float64
				want, vari float64
			}{{"n", n, m.MeanN, m.VarN}, {"Σy", sum, m.MeanS, m.VarS}, {"Σy²", q, m.MeanQ, stat.Variance(q, nil)},
				{"converted", x, m.MeanX, m.VarX}, {"spend", c, m.MeanC, stat.Variance(c, nil)}} {
				se := math.Sqrt(mc.vari / draws)
				if got := stat.Mean(mc.xs, nil); math.Abs(got-mc.want) > 4.5*se {
					t.Errorf("mean of %s = %.6g, want %.6g ± %.3g", mc.name, got, mc.want, 4.5*se)
				}
			}
			for _, vc := range []struct {
				name         string
				a, b         []float64
				want, va, vb float64
			}{{"var n", n, n, m.VarN, m.VarN, m.VarN}, {"var Σy", sum, sum, m.VarS, m.VarS, m.VarS},
				{"cov n Σy", n, sum, m.CovNS, m.VarN, m.VarS}, {"var converted", x, x, m.VarX, m.VarX, m.VarX},
				{"cov n converted", n, x, m.CovNX, m.VarN, m.VarX}} {
				tol := 4.5 * math.Sqrt((vc.va*vc.vb+vc.want*vc.want)/draws)
				if got := stat.Covariance(vc.a, vc.b, nil); math.Abs(got-vc.want) > tol {
					t.Errorf("%s = %.6g, want %.6g ± %.3g", vc.name, got, vc.want, tol)
				}
			}
		})
	}
}

// TestLearnBootstrap: under the binding budget of the "budget" check case
// the value and the gain carry the bootstrap's SE (B replicates), with the
// point estimates of the fixed-policy answer, a CI of estimate ± z·SE, and
// the same answer for the same data (the seed is a hash of the data);
// without a budget there is no bootstrap.
func TestLearnBootstrap(t *testing.T) {
	cases := map[string]checkCase{}
	for _, tc := range loadChecks(t) {
		cases[tc.Name] = tc
	}
	zq := distuv.UnitNormal.Quantile(0.975)
	for _, tt := range []struct {
		name string
		boot int
	}{{"budget", BootstrapReplicates}, {"two_features", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			in := cases[tt.name].Input
			fixed, err := learn(in, 0)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Learn(in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Bootstrap != tt.boot {
				t.Fatalf("bootstrap %d, want %d", out.Bootstrap, tt.boot)
			}
			again, _ := Learn(in)
			for _, e := range []struct {
				name              string
				got, again, fixed Estimate
			}{{"value", out.Value, again.Value, fixed.Value}, {"gain", out.GainOverBestSingle, again.GainOverBestSingle, fixed.GainOverBestSingle}} {
				if e.got != e.again {
					t.Errorf("%s %v, then %v for the same data", e.name, e.got, e.again)
				}
				near(t, e.name+".estimate", e.got.Estimate, e.fixed.Estimate)
				near(t, e.name+".ci[0]", e.got.CI[0], e.got.Estimate-zq*e.got.SE)
				near(t, e.name+".ci[1]", e.got.CI[1], e.got.Estimate+zq*e.got.SE)
				if tt.boot == 0 {
					nearEstimate(t, e.name, e.got, e.fixed)
				} else if !(e.got.SE > 0) || e.got.SE == e.fixed.SE {
					t.Errorf("%s SE %g, want a bootstrap SE (fixed-policy SE %g)", e.name, e.got.SE, e.fixed.SE)
				}
			}
			nearEstimate(t, "best_single.value", out.BestSingle.Value, fixed.BestSingle.Value)
		})
	}
}
