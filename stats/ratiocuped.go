package stats

import "math"

// RatioCUPEDArm holds one arm's sufficient statistics of a ratio metric
// M/D and of its pre-period M_pre/D_pre (gbstats'
// RegressionAdjustedRatioStatistic): N units, the sums and sums of squares
// of M, D, X = M_pre and E = D_pre, and the six cross sums.
type RatioCUPEDArm struct {
	N                      float64
	M, MM, D, DD, MD       float64 // ΣM, ΣM², ΣD, ΣD², ΣMD
	X, XX, E, EE           float64 // ΣM_pre, ΣM_pre², ΣD_pre, ΣD_pre²
	MX, DE, XE, ME, XD     float64 // ΣM·M_pre, ΣD·D_pre, ΣM_pre·D_pre, ΣM·D_pre, ΣM_pre·D
	lambda                 [4][4]float64
	muM, muD, muX, muE     float64
	post, pre              float64
	validMoments, validPre bool
}

// moments fills the means β = (μ_M, μ_D, μ_X, μ_E) and the per-unit
// covariance matrix Λ of (M, D, X, E) with n−1 denominators.
func (a *RatioCUPEDArm) moments() {
	n := a.N
	a.validMoments = n >= 2 && a.D != 0
	a.validPre = a.E != 0
	if !(n > 0) {
		return
	}
	a.muM, a.muD, a.muX, a.muE = a.M/n, a.D/n, a.X/n, a.E/n
	sums := [4]float64{a.M, a.D, a.X, a.E}
	sq := [4]float64{a.MM, a.DD, a.XX, a.EE}
	cross := [4][4]float64{
		{0, a.MD, a.MX, a.ME},
		{0, 0, a.XD, a.DE},
		{0, 0, 0, a.XE},
	}
	den := math.Max(n-1, 1)
	for i := 0; i < 4; i++ {
		a.lambda[i][i] = centred(sq[i], sums[i], n) / den
		for j := i + 1; j < 4; j++ {
			c := centredCross(cross[i][j], sums[i], sums[j], n) / den
			a.lambda[i][j], a.lambda[j][i] = c, c
		}
	}
	if a.D != 0 {
		a.post = a.M / a.D
	}
	if a.E != 0 {
		a.pre = a.X / a.E
	}
}

// quad returns gᵀΛh.
func (a *RatioCUPEDArm) quad(g, h [4]float64) float64 {
	var s float64
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			s += g[i] * a.lambda[i][j] * h[j]
		}
	}
	return s
}

// gradPost and gradPre are the gradients of R_post = μ_M/μ_D and
// R_pre = μ_X/μ_E with respect to β.
func (a *RatioCUPEDArm) gradPost() [4]float64 {
	return [4]float64{1 / a.muD, -a.muM / (a.muD * a.muD), 0, 0}
}

func (a *RatioCUPEDArm) gradPre() [4]float64 {
	return [4]float64{0, 0, 1 / a.muE, -a.muX / (a.muE * a.muE)}
}

// RatioCUPEDTheta returns gbstats' θ of a regression-adjusted ratio:
// with per-arm, per-unit delta-method moments of R_post and R_pre,
//
//	θ = (cov_a(R_post, R_pre) + cov_b(R_post, R_pre)) / (var_a(R_pre) + var_b(R_pre)),
//
// cov = ∇R_preᵀ Λ ∇R_post and var = ∇R_preᵀ Λ ∇R_pre (gbstats
// compute_theta_regression_adjusted_ratio). It is 0 when the denominator
// is 0 or a pre-period denominator sum is 0.
func RatioCUPEDTheta(a, b RatioCUPEDArm) float64 {
	a.moments()
	b.moments()
	return ratioTheta(&a, &b)
}

func ratioTheta(a, b *RatioCUPEDArm) float64 {
	if !a.validMoments || !b.validMoments || !a.validPre || !b.validPre {
		return 0
	}
	v := a.quad(a.gradPre(), a.gradPre()) + b.quad(b.gradPre(), b.gradPre())
	c := a.quad(a.gradPre(), a.gradPost()) + b.quad(b.gradPre(), b.gradPost())
	th := c / v
	if !(v > 0) || !finite(th) {
		return 0
	}
	return th
}

// RatioCUPED compares arm b with arm a on a ratio metric after regression
// adjustment on the pre-period ratio (gbstats
// RegressionAdjustedRatioStatistic) with θ = RatioCUPEDTheta(a, b):
//
//	arm mean   T = R_post − θ·R_pre,
//	per-unit variance ∇ᵀΛ∇ with ∇ = ∇R_post − θ·∇R_pre
//	  = (1/μ_D, −μ_M/μ_D², −θ/μ_E, θμ_X/μ_E²),
//	Δ = T_b − T_a, tested by Welch's t with the Welch–Satterthwaite ν.
//
// The relative lift divides by the unadjusted control ratio,
// L = Δ/|R_post,a|, with the delta-method variance over the control's four
// means (A = T_b + θR_pre,a):
//
//	Var(L) = v_b/(n_b R²) + gᵀΛ_a g/n_a,  g = −sign(R)·A/R²·∇R_post + θ/|R|·∇R_pre.
//
// VarianceReduction = 1 − se²/se²_raw with se_raw that of the unadjusted
// ratios. Errors: ErrNoUnits, ErrInsufficientSample (n < 2),
// ErrBaselineZero when a post-period denominator sum is 0 (a zero
// pre-period denominator only turns the adjustment off).
func RatioCUPED(a, b RatioCUPEDArm, alpha float64) (CUPEDResult, error) {
	if !(a.N > 0) || !(b.N > 0) {
		return CUPEDResult{Absolute: Effect{PValue: 1}}, ErrNoUnits
	}
	if a.N < 2 || b.N < 2 {
		return CUPEDResult{Absolute: Effect{PValue: 1}}, ErrInsufficientSample
	}
	if a.D == 0 || b.D == 0 {
		return CUPEDResult{Absolute: Effect{PValue: 1}, RelativeErr: ErrBaselineZero}, ErrBaselineZero
	}
	a.moments()
	b.moments()
	th := ratioTheta(&a, &b)
	arm := func(s *RatioCUPEDArm) Summary {
		g := s.gradPost()
		if th != 0 {
			p := s.gradPre()
			for i := range g {
				g[i] -= th * p[i]
			}
		}
		return Summary{N: s.N, Mean: s.post - th*s.pre, Variance: math.Max(0, s.quad(g, g))}
	}
	sa, sb := arm(&a), arm(&b)
	res := CUPEDResult{Theta: th, Applied: th != 0}
	abs, err := WelchTest(sa, sb, alpha)
	res.Absolute = abs
	ra := math.Max(0, a.quad(a.gradPost(), a.gradPost()))
	rb := math.Max(0, b.quad(b.gradPost(), b.gradPost()))
	if raw := ra/a.N + rb/b.N; raw > 0 {
		res.VarianceReduction = 1 - (abs.SE*abs.SE)/raw
	}
	r := a.post
	A := sb.Mean + th*a.pre
	gp, gq := a.gradPost(), a.gradPre()
	var g [4]float64
	sign := 1.0
	if r < 0 {
		sign = -1
	}
	for i := range g {
		g[i] = -sign*A/(r*r)*gp[i] + th/math.Abs(r)*gq[i]
	}
	if th == 0 {
		for i := 2; i < 4; i++ {
			g[i] = 0
		}
	}
	res.setRelative(sb.Variance/(b.N*r*r)+a.quad(g, g)/a.N, Summary{N: a.N, Mean: r, Variance: ra}, sb, alpha)
	return res, err
}
