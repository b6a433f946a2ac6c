package stats

import (
	"math"
	"testing"
)

// TestPublishedNumbers reproduces numbers published in other projects' unit
// tests, as quoted in stats-methods.md: GrowthBook
// packages/shared/test/power.test.ts and experiments.test.ts, and the
// G*Power sample sizes of spotify/confidence tests/samplesize.
func TestPublishedNumbers(t *testing.T) {
	round := func(x float64, d int) float64 {
		p := math.Pow(10, float64(d))
		return math.Round(x*p) / p
	}
	// frequentistVariance(varA, meanA, nA, varB, meanB, nB, relative)
	a := Summary{N: 4, Mean: 7, Variance: 2}
	b := Summary{N: 15, Mean: 5, Variance: 0.5}
	// GrowthBook powerEst(effect, mean 10, variance 3909.9997749994377, n 400000, 3 variations, alpha .05, two-tailed).
	gbPower := func(effect float64) float64 {
		const mean, v, n = 10.0, 3909.9997749994377, 400000.0 / 3
		se := math.Sqrt(RelativeVariance(Summary{N: n, Mean: mean, Variance: v}, Summary{N: n, Mean: mean * (1 + effect), Variance: v}))
		return Power(effect, se, 0.05)
	}
	srm := func(o, w []float64) float64 { return SRM(o, w).PValue }
	cohen := func() float64 { n, _ := SampleSizeCohenH(0.34, 0.343, 0.05, 0.85); return 2 * math.Ceil(n) }
	tt := func() float64 { n, _ := SampleSizeMeansT(10, 0.3, 0.05, 0.85); return 2 * math.Ceil(n) }
	tests := []struct {
		name   string
		got    float64
		digits int
		want   float64
	}{
		{"GB frequentistVariance absolute", a.Variance/a.N + b.Variance/b.N, 5, 0.53333},
		{"GB frequentistVariance relative", RelativeVariance(a, b), 5, 0.00589},
		{"GB powerEst 0.05", gbPower(0.05), 5, 0.52144},
		{"GB powerEst 0.0706", gbPower(0.0706142187656053), 5, 0.80366},
		{"GB checkSrm skip empty weights", srm([]float64{1000, 1200, 900}, []float64{0.5, 0.5, 0}), 9, 0.000020079},
		{"GB checkSrm three arms", srm([]float64{500, 500, 600}, []float64{0.34, 0.33, 0.33}), 9, 0.000592638},
		{"GB checkSrm equal", srm([]float64{500, 500}, []float64{0.5, 0.5}), 9, 1},
		{"G*Power Cohen h total (SP tests)", cohen(), 0, 897348},
		{"G*Power t test total (SP tests)", tt(), 0, 39906},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g := round(tc.got, tc.digits); g != tc.want {
				t.Errorf("got %.12g (rounded %v), want %v", tc.got, g, tc.want)
			}
		})
	}
	// Units in a zero-weight arm are a mismatch by our rule (GrowthBook
	// returns p = 1 for checkSrm([1000,900,800],[1,0,0]); we flag it).
	if r := SRM([]float64{1000, 900, 800}, []float64{1, 0, 0}); r.PValue != 1 || !r.Flagged {
		t.Errorf("zero-weight arm with units: %+v", r)
	}
}
