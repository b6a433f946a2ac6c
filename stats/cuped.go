package stats

import "math"

// CUPEDArm holds one arm's sufficient statistics of the metric y and of its
// pre-period covariate x: N units, Sum = Σy, SumSquares = Σy², PreSum = Σx,
// PreSumSquares = Σx², CrossSum = Σxy. Binary marks a proportion metric
// (y ∈ {0,1}, SumSquares = Sum): its moments use the MLE denominator n
// (v_y = p(1−p), as ProportionSummary and gbstats' ProportionStatistic)
// and its test is the z test.
type CUPEDArm struct {
	N, Sum, SumSquares, PreSum, PreSumSquares, CrossSum float64
	Binary                                              bool
}

// CUPEDResult is a CUPED-adjusted comparison: the pooled Theta, the
// adjusted absolute Effect (Welch), the Relative lift over the unadjusted
// control mean, and VarianceReduction = 1 − se²_adj/se²_raw of the absolute
// difference. Applied is false when the adjustment was skipped (θ = 0).
type CUPEDResult struct {
	Theta             float64
	VarianceReduction float64
	Applied           bool
	Absolute          Effect
	Relative          Relative
	RelativeErr       error
}

// CUPEDTheta returns θ = cov(y, x)/var(x) over both arms pooled (n−1
// denominators): with N = n_a+n_b and pooled sums,
// θ = (Σxy − ΣxΣy/N)/(Σx² − (Σx)²/N). It returns 0 (no adjustment) when the
// pooled var(x) or var(y) is 0, or either arm has fewer than 3 units.
func CUPEDTheta(a, b CUPEDArm) float64 {
	if a.N < 3 || b.N < 3 {
		return 0
	}
	n := a.N + b.N
	vx := centred(a.PreSumSquares+b.PreSumSquares, a.PreSum+b.PreSum, n)
	vy := centred(a.SumSquares+b.SumSquares, a.Sum+b.Sum, n)
	if vx <= 0 || vy <= 0 {
		return 0
	}
	th := centredCross(a.CrossSum+b.CrossSum, a.PreSum+b.PreSum, a.Sum+b.Sum, n) / vx
	if !finite(th) {
		return 0
	}
	return th
}

// cupedMoments returns an arm's ȳ, x̄, v_y, v_x, c_xy (per-unit, n−1;
// n for a Binary arm).
func cupedMoments(s CUPEDArm) (my, mx, vy, vx, cxy float64) {
	my, mx = s.Sum/s.N, s.PreSum/s.N
	den := s.N - 1
	if s.Binary {
		den = s.N
	}
	vy = centred(s.SumSquares, s.Sum, s.N) / den
	vx = centred(s.PreSumSquares, s.PreSum, s.N) / den
	cxy = centredCross(s.CrossSum, s.PreSum, s.Sum, s.N) / den
	return
}

// CUPED compares arm b with arm a after regression adjustment on the
// pre-period covariate (Deng et al. 2013) with θ = CUPEDTheta(a, b):
//
//	adjusted arm mean  ȳ − θx̄,  per-unit variance v_adj = v_y + θ²v_x − 2θc_xy,
//	Δ = (ȳ_b − θx̄_b) − (ȳ_a − θx̄_a),  se² = v_adj,a/n_a + v_adj,b/n_b,
//
// tested by Welch's t (ν from the adjusted variances), or by the z test
// (Wald, ν = ∞) when both arms are Binary (proportion metrics, moments
// with denominator n). The relative lift
// divides by the unadjusted control mean, L = Δ/|ȳ_a|, with the delta-method
// variance that keeps the covariance of ȳ_a and x̄_a (A = ȳ_b − θx̄_b + θx̄_a):
//
//	Var(L) = v_adj,b/(n_b ȳ_a²) + (A²v_y,a/ȳ_a⁴ + θ²v_x,a/ȳ_a² − 2Aθc_xy,a/ȳ_a³)/n_a.
//
// VarianceReduction = 1 − se²/se²_raw where se_raw ignores x. Arms with
// n < 2 give ErrInsufficientSample, n = 0 ErrNoUnits; ȳ_a = 0 leaves the
// relative part with ErrBaselineZero in RelativeErr.
func CUPED(a, b CUPEDArm, alpha float64) (CUPEDResult, error) {
	if !(a.N > 0) || !(b.N > 0) {
		return CUPEDResult{Absolute: Effect{PValue: 1}}, ErrNoUnits
	}
	if a.N < 2 || b.N < 2 {
		return CUPEDResult{Absolute: Effect{PValue: 1}}, ErrInsufficientSample
	}
	th := CUPEDTheta(a, b)
	mya, mxa, vya, vxa, ca := cupedMoments(a)
	myb, mxb, vyb, vxb, cb := cupedMoments(b)
	adjA := math.Max(0, vya+th*th*vxa-2*th*ca)
	adjB := math.Max(0, vyb+th*th*vxb-2*th*cb)
	sa := Summary{N: a.N, Mean: mya - th*mxa, Variance: adjA}
	sb := Summary{N: b.N, Mean: myb - th*mxb, Variance: adjB}
	res := CUPEDResult{Theta: th, Applied: th != 0}
	test := WelchTest
	if a.Binary && b.Binary {
		test = ZTest
	}
	abs, err := test(sa, sb, alpha)
	res.Absolute = abs
	raw := vya/a.N + vyb/b.N
	if raw > 0 {
		res.VarianceReduction = 1 - (abs.SE*abs.SE)/raw
	}
	if mya == 0 {
		res.Relative, res.RelativeErr = Relative{PValue: 1}, ErrBaselineZero
		return res, err
	}
	A := myb - th*mxb + th*mxa
	m2 := mya * mya
	v := adjB/(b.N*m2) + (A*A*vya/(m2*m2)+th*th*vxa/m2-2*A*th*ca/(m2*mya))/a.N
	res.setRelative(v, Summary{N: a.N, Mean: mya, Variance: vya}, sb, alpha)
	return res, err
}

// setRelative fills the relative lift L = Δ/|m_a| of an adjusted
// comparison from its delta-method variance v (clamped at 0), with
// Fieller's g of the unadjusted control ctrl against the adjusted
// treatment adjB.
func (res *CUPEDResult) setRelative(v float64, ctrl, adjB Summary, alpha float64) {
	if v < 0 || !finite(v) {
		v = 0
	}
	l := res.Absolute.Estimate / math.Abs(ctrl.Mean)
	se := math.Sqrt(v)
	res.Relative = relativeFromSE(l, se, alpha, res.Absolute.DF)
	_, res.Relative.FiellerG, _ = Fieller(ctrl, adjB, alpha)
	if se == 0 && l != 0 {
		res.RelativeErr = ErrZeroVariance
	}
}
