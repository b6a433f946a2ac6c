package stats

import "math"

// Alternatives of a test (the top-level `alternative` of analyze). They are
// stated on the difference treatment − control whatever the metric's
// direction: "greater" is H1: Δ > 0, "less" is H1: Δ < 0.
const (
	AltTwoSided = "two-sided"
	AltGreater  = "greater"
	AltLess     = "less"
)

// OneSidedT returns t_{1−α,ν}, the one-sided Student-t critical value for
// 0 < α < ½ and ν > 0 (ν = +Inf gives z_{1−α}); it is TwoSidedT(2α, ν).
func OneSidedT(alpha, nu float64) float64 {
	return TwoSidedT(2*alpha, nu)
}

// OneSidedP returns the one-sided p-value of the statistic t = est/se with
// ν degrees of freedom (+Inf: normal): P(T_ν > t) for "greater" and
// P(T_ν < t) = P(T_ν > −t) for "less". Any other alternative gives the
// two-sided 2·P(T_ν > |t|).
func OneSidedP(t, nu float64, alt string) float64 {
	switch alt {
	case AltGreater:
		return clip01(TSF(t, nu))
	case AltLess:
		return clip01(TSF(-t, nu))
	}
	return TwoSidedTP(t, nu)
}

// OneSidedInterval returns the one-sided (1−α) interval of an estimate
// with standard error se and ν degrees of freedom:
//
//	greater: [est − t_{1−α,ν}·se, +∞),  less: (−∞, est + t_{1−α,ν}·se].
//
// The open end is ±Inf (nil on the wire).
func OneSidedInterval(est, se, nu, alpha float64, alt string) [2]float64 {
	if !(se > 0) || !finite(se) {
		se = 0
	}
	q := 0.0
	if se > 0 {
		q = OneSidedT(alpha, nu) * se
	}
	if alt == AltLess {
		return [2]float64{math.Inf(-1), est + q}
	}
	return [2]float64{est - q, math.Inf(1)}
}

// ConfidenceSequenceOneSided is the one-sided normal-mixture confidence
// sequence of GrowthBook (Waudby-Smith et al. 2023, eq. 134), with ρ tuned
// at 2α:
//
//	ρ² = (−2 ln 2α + ln(1 − 2 ln 2α))/N*,  r = n·ρ²,
//	halfwidth = se·√(2(1+r)/r · ln(1 + √(1+r)/(2α))),
//
// CI = [est − halfwidth, +∞) for "greater" and (−∞, est + halfwidth] for
// "less". The always-valid p-value is the smallest α' at which that
// sequence (ρ kept) excludes 0, in closed form with z = est/se signed
// towards the alternative (z = est/se for greater, −est/se for less):
//
//	p = min(1, √(1+r) / (2·(exp(z²·r/(2(1+r))) − 1)))  for z > 0,  p = 1 otherwise.
//
// (GrowthBook finds the same α' by bisection, clipped to [1e-5, 0.4999].)
// Degenerate input is as in ConfidenceSequence; α must be < ½.
func ConfidenceSequenceOneSided(est, se, n, tuning, alpha float64, alt string) (Sequential, error) {
	if res, err, done := sequentialDegenerate(est, se, n); done {
		return res, err
	}
	if !(tuning > 0) {
		tuning = DefaultSequentialTuning
	}
	la := math.Log(2 * alpha)
	rho2 := (-2*la + math.Log(1-2*la)) / tuning
	r := n * rho2
	hw := se * math.Sqrt(2*(1+r)/r*math.Log1p(math.Sqrt(1+r)/(2*alpha)))
	z := est / se
	ci := [2]float64{est - hw, math.Inf(1)}
	if alt == AltLess {
		z = -z
		ci = [2]float64{math.Inf(-1), est + hw}
	}
	p := 1.0
	if z > 0 {
		e := z * z * r / (2 * (1 + r))
		// √(1+r)/(2(e^e − 1)) in logs: ½ln(1+r) − ln 2 − ln(expm1(e)).
		lp := 0.5*math.Log1p(r) - math.Ln2 - logExpm1(e)
		if lp < 0 {
			p = math.Exp(lp)
		}
	}
	return Sequential{HalfWidth: hw, CI: ci, PValue: p}, nil
}

// logExpm1 returns ln(e^x − 1) for x > 0 without overflow.
func logExpm1(x float64) float64 {
	if x > 30 {
		return x + math.Log1p(-math.Exp(-x))
	}
	return math.Log(math.Expm1(x))
}
