package stats

import "math"

// ErrorCode is a machine-readable reason why a result could not be computed
// from the data. It implements error; compare with == or errors.Is.
type ErrorCode string

// Error codes of degenerate data. Results carrying one of them are still
// returned (with the fields that remain valid), never NaN.
const (
	// ErrNoUnits: an arm has n = 0 units.
	ErrNoUnits ErrorCode = "no_units"
	// ErrInsufficientSample: n < 2 where a sample variance is needed.
	ErrInsufficientSample ErrorCode = "insufficient_sample"
	// ErrZeroVariance: the standard error is 0 while the estimate is not.
	ErrZeroVariance ErrorCode = "zero_variance"
	// ErrBaselineZero: a relative quantity has a zero denominator (control
	// mean, generic arm mean or ratio denominator).
	ErrBaselineZero ErrorCode = "baseline_zero"
	// ErrNonpositiveCost: ROI asked for with a promotion cost ≤ 0.
	ErrNonpositiveCost ErrorCode = "nonpositive_cost"
)

// WarnLowSample is attached to comparisons where an arm has fewer than
// LowSampleUnits units or, for proportions, fewer than LowSampleEvents
// conversions or non-conversions.
const WarnLowSample = "low_sample"

// Thresholds of the low_sample warning.
const (
	LowSampleUnits  = 30
	LowSampleEvents = 5
)

// Error returns the code itself.
func (e ErrorCode) Error() string { return string(e) }

// Summary is one arm's estimate: N units, the mean (or rate) and the
// per-unit variance (not divided by N).
type Summary struct {
	N        float64
	Mean     float64
	Variance float64
}

// SEMean returns the standard error of the arm mean, √(Variance/N), or 0
// when N ≤ 0.
func (s Summary) SEMean() float64 {
	if s.N <= 0 || s.Variance <= 0 {
		return 0
	}
	return math.Sqrt(s.Variance / s.N)
}

// ProportionSummary returns the rate p = x/n of x conversions among n units
// and the per-unit Bernoulli variance p(1−p) (the MLE, no n−1 correction).
// n ≤ 0 gives ErrNoUnits and a zero Summary; x is clamped into [0, n].
func ProportionSummary(n, x float64) (Summary, error) {
	if !(n > 0) {
		return Summary{}, ErrNoUnits
	}
	x = math.Max(0, math.Min(x, n))
	p := x / n
	return Summary{N: n, Mean: p, Variance: p * (1 - p)}, nil
}

// MeanSummary returns the mean m = S/n of a metric with sum S = Σy and sum of
// squares Q = Σy² over n units, and the unbiased per-unit variance
// s² = (Q − S·m)/(n−1). Rounding residue (Q < S²/n) is clamped to 0.
// n ≤ 0 gives ErrNoUnits; n < 2 gives ErrInsufficientSample with the mean
// set and the variance 0.
func MeanSummary(n, sum, sumSquares float64) (Summary, error) {
	if !(n > 0) {
		return Summary{}, ErrNoUnits
	}
	m := sum / n
	if n < 2 {
		return Summary{N: n, Mean: m}, ErrInsufficientSample
	}
	return Summary{N: n, Mean: m, Variance: centred(sumSquares, sum, n) / (n - 1)}, nil
}

// centred returns Σ(y−ȳ)² = Q − S²/n from raw sums, clamped at 0.
func centred(q, s, n float64) float64 {
	v := q - s*(s/n)
	if v < 0 || !finite(v) {
		return 0
	}
	return v
}

// centredCross returns Σ(x−x̄)(y−ȳ) = Sxy − SxSy/n.
func centredCross(sxy, sx, sy, n float64) float64 {
	v := sxy - sx*(sy/n)
	if !finite(v) {
		return 0
	}
	return v
}

// RatioSummary returns the ratio metric R = ΣM/ΣD over n units (e.g. revenue
// per order) with its per-unit delta-method variance
//
//	v = var_M/μ_D² + μ_M²·var_D/μ_D⁴ − 2·μ_M·cov_MD/μ_D³,
//
// where μ_M = ΣM/n, μ_D = ΣD/n, var_M = (ΣM² − (ΣM)²/n)/(n−1),
// var_D = (ΣD² − (ΣD)²/n)/(n−1) and cov_MD = (ΣMD − ΣMΣD/n)/(n−1). The
// variance of R itself is v/n. n ≤ 0 gives ErrNoUnits, n < 2
// ErrInsufficientSample, μ_D = 0 ErrBaselineZero. Negative v (rounding) is
// clamped to 0.
func RatioSummary(n, sumM, sumM2, sumD, sumD2, sumMD float64) (Summary, error) {
	if !(n > 0) {
		return Summary{}, ErrNoUnits
	}
	if sumD == 0 {
		return Summary{N: n}, ErrBaselineZero
	}
	muM, muD := sumM/n, sumD/n
	r := sumM / sumD
	if n < 2 {
		return Summary{N: n, Mean: r}, ErrInsufficientSample
	}
	vM := centred(sumM2, sumM, n) / (n - 1)
	vD := centred(sumD2, sumD, n) / (n - 1)
	c := centredCross(sumMD, sumM, sumD, n) / (n - 1)
	v := vM/(muD*muD) + muM*muM*vD/(muD*muD*muD*muD) - 2*muM*c/(muD*muD*muD)
	if v < 0 || !finite(v) {
		v = 0
	}
	return Summary{N: n, Mean: r, Variance: v}, nil
}

// Effect is an absolute comparison of two arms: the difference of means
// Estimate = m_b − m_a, its standard error SE, the degrees of freedom DF
// (+Inf for normal-based results), the test statistic Stat = Estimate/SE,
// the two-sided PValue and the two-sided CI at the requested level.
type Effect struct {
	Estimate float64
	SE       float64
	DF       float64
	Stat     float64
	PValue   float64
	CI       [2]float64
}

// WelchDF returns the Welch–Satterthwaite degrees of freedom
//
//	ν = (u_a + u_b)² / (u_a²/(n_a−1) + u_b²/(n_b−1)),  u = v/n,
//
// for arms a and b with per-unit variances v and sizes n. Terms of an arm
// with u = 0 vanish (so one constant arm gives ν = n_other − 1). It returns
// +Inf when both u are 0 and 0 when no arm has n ≥ 2 with u > 0.
func WelchDF(a, b Summary) float64 {
	ua, ub := a.Variance/a.N, b.Variance/b.N
	var den float64
	for _, t := range [][2]float64{{ua, a.N}, {ub, b.N}} {
		if t[0] > 0 {
			if t[1] < 2 {
				return 0
			}
			den += t[0] * t[0] / (t[1] - 1)
		}
	}
	if den == 0 {
		return math.Inf(1)
	}
	return (ua + ub) * (ua + ub) / den
}

// WelchTest compares arm b (treatment) with arm a (control) by Welch's
// unequal-variance t test: Δ = m_b − m_a, se = √(v_a/n_a + v_b/n_b),
// t = Δ/se, ν = WelchDF(a, b), p = 2·P(T_ν > |t|) and CI = Δ ± t_{1−α/2,ν}·se.
// Identical degenerate arms (se = 0, Δ = 0) give t = 0, p = 1, CI [0,0];
// se = 0 with Δ ≠ 0 gives ErrZeroVariance; an empty arm ErrNoUnits.
func WelchTest(a, b Summary, alpha float64) (Effect, error) {
	if !(a.N > 0) || !(b.N > 0) {
		return Effect{PValue: 1}, ErrNoUnits
	}
	d := b.Mean - a.Mean
	se := math.Sqrt(a.Variance/a.N + b.Variance/b.N)
	nu := WelchDF(a, b)
	if se == 0 || !finite(se) {
		if d == 0 {
			return Effect{DF: nu, PValue: 1}, nil
		}
		return Effect{Estimate: d, DF: nu, PValue: 1, CI: [2]float64{d, d}}, ErrZeroVariance
	}
	if nu == 0 {
		return Effect{Estimate: d, SE: se, PValue: 1, CI: [2]float64{d, d}}, ErrInsufficientSample
	}
	t := d / se
	q := TwoSidedT(alpha, nu) * se
	return Effect{Estimate: d, SE: se, DF: nu, Stat: t, PValue: TwoSidedTP(t, nu), CI: [2]float64{d - q, d + q}}, nil
}

// ZTest compares arm b with arm a by a normal (z) test with the unpooled
// standard error: Δ = m_b − m_a, se = √(v_a/n_a + v_b/n_b), z = Δ/se,
// p = 2Φ(−|z|), CI = Δ ± z_{1−α/2}·se, DF = +Inf. For proportions this is the
// Wald interval. Degenerate cases are as in WelchTest.
func ZTest(a, b Summary, alpha float64) (Effect, error) {
	if !(a.N > 0) || !(b.N > 0) {
		return Effect{PValue: 1}, ErrNoUnits
	}
	d := b.Mean - a.Mean
	se := math.Sqrt(a.Variance/a.N + b.Variance/b.N)
	inf := math.Inf(1)
	if se == 0 || !finite(se) {
		if d == 0 {
			return Effect{DF: inf, PValue: 1}, nil
		}
		return Effect{Estimate: d, DF: inf, PValue: 1, CI: [2]float64{d, d}}, ErrZeroVariance
	}
	z := d / se
	q := TwoSidedZ(alpha) * se
	return Effect{Estimate: d, SE: se, DF: inf, Stat: z, PValue: clip01(2 * NormalSF(math.Abs(z))), CI: [2]float64{d - q, d + q}}, nil
}

// PooledZTest is the classical two-proportion z test of H0: p_a = p_b with
// x conversions among n units per arm: p̄ = (x_a+x_b)/(n_a+n_b),
// se₀ = √(p̄(1−p̄)(1/n_a + 1/n_b)), z = (x_b/n_b − x_a/n_a)/se₀ and
// p = 2Φ(−|z|) (equal to the Pearson chi-square test without continuity
// correction). When p̄ is 0 or 1 the arms are identical: z = 0, p = 1.
// An empty arm gives ErrNoUnits with p = 1.
func PooledZTest(na, xa, nb, xb float64) (z, p float64, err error) {
	if !(na > 0) || !(nb > 0) {
		return 0, 1, ErrNoUnits
	}
	pbar := (xa + xb) / (na + nb)
	se := math.Sqrt(pbar * (1 - pbar) * (1/na + 1/nb))
	if se == 0 || !finite(se) {
		return 0, 1, nil
	}
	z = (xb/nb - xa/na) / se
	return z, clip01(2 * NormalSF(math.Abs(z))), nil
}

// Relative is the relative lift L = (m_b − m_a)/|m_a| of arm b over arm a
// with its delta-method standard error SE, the degrees of freedom DF used for
// CI and PValue (Welch ν, +Inf for normal), the t-based CI, the normal CI
// CINormal, and Fieller's interval (FiellerCI valid only when FiellerOK).
// FiellerG is Fieller's g = z²·(v_a/n_a)/m_a²; g ≥ 1 means the control mean
// is not distinguishable from 0 and the relative CI is unreliable.
type Relative struct {
	Estimate  float64
	SE        float64
	DF        float64
	PValue    float64
	CI        [2]float64
	CINormal  [2]float64
	FiellerCI [2]float64
	FiellerOK bool
	FiellerG  float64
}

// RelativeVariance returns the delta-method variance of L = (m_b−m_a)/|m_a|
// for independent arms:
//
//	Var(L) = v_b/(n_b·m_a²) + m_b²·v_a/(n_a·m_a⁴),
//
// with m the means, v the per-unit variances and n the sizes. It is 0 when
// m_a = 0 or an arm is empty.
func RelativeVariance(a, b Summary) float64 {
	if a.Mean == 0 || !(a.N > 0) || !(b.N > 0) {
		return 0
	}
	ma2 := a.Mean * a.Mean
	v := b.Variance/(b.N*ma2) + b.Mean*b.Mean*a.Variance/(a.N*ma2*ma2)
	if !finite(v) {
		return 0
	}
	return v
}

// RelativeLift returns the relative lift of b over a (see Relative) with the
// delta-method variance of RelativeVariance, CI = L ± t_{1−α/2,ν}·SE,
// CINormal = L ± z_{1−α/2}·SE and p = 2·P(T_ν > |L/SE|), where ν = df
// (pass WelchDF(a, b); +Inf or ≥ 1e6 means normal). Fieller's interval is
// filled in by Fieller. m_a = 0 gives ErrBaselineZero; SE = 0 with L ≠ 0
// gives ErrZeroVariance; SE = 0 with L = 0 gives p = 1 and CI [0,0].
func RelativeLift(a, b Summary, alpha, df float64) (Relative, error) {
	if !(a.N > 0) || !(b.N > 0) {
		return Relative{PValue: 1}, ErrNoUnits
	}
	if a.Mean == 0 {
		return Relative{PValue: 1}, ErrBaselineZero
	}
	l := (b.Mean - a.Mean) / math.Abs(a.Mean)
	se := math.Sqrt(RelativeVariance(a, b))
	r := relativeFromSE(l, se, alpha, df)
	r.FiellerCI, r.FiellerG, r.FiellerOK = Fieller(a, b, alpha)
	if se == 0 && l != 0 {
		return r, ErrZeroVariance
	}
	return r, nil
}

// relativeFromSE fills estimate, SE, CIs and p from a point estimate and SE.
func relativeFromSE(l, se, alpha, df float64) Relative {
	r := Relative{Estimate: l, SE: se, DF: df, PValue: 1, CI: [2]float64{l, l}, CINormal: [2]float64{l, l}}
	if se == 0 || !finite(se) || !(df > 0) {
		r.SE = 0
		return r
	}
	q := TwoSidedT(alpha, df) * se
	zq := TwoSidedZ(alpha) * se
	r.CI = [2]float64{l - q, l + q}
	r.CINormal = [2]float64{l - zq, l + zq}
	r.PValue = TwoSidedTP(l/se, df)
	return r
}

// Fieller returns Fieller's interval for the relative lift m_b/m_a − 1 of
// independent arms, the exact CI of a ratio of normal means:
//
//	g = z²·va/m_a²,  r = m_b/m_a,
//	CI = [r ± (z/m_a)·√(vb(1−g) + r²·va)]/(1−g) − 1,
//
// where va = v_a/n_a, vb = v_b/n_b and z = z_{1−α/2}. ok is false (and ci
// zero) when m_a ≤ 0 or g ≥ 1 (the interval is unbounded); g is returned
// whenever m_a ≠ 0 (g = 0 when m_a = 0).
func Fieller(a, b Summary, alpha float64) (ci [2]float64, g float64, ok bool) {
	if !(a.N > 0) || !(b.N > 0) || a.Mean == 0 {
		return ci, 0, false
	}
	va, vb := a.Variance/a.N, b.Variance/b.N
	z := TwoSidedZ(alpha)
	g = z * z * va / (a.Mean * a.Mean)
	if !finite(g) {
		return ci, 0, false
	}
	if a.Mean < 0 || g >= 1 {
		return ci, g, false
	}
	r := b.Mean / a.Mean
	h := z / a.Mean * math.Sqrt(vb*(1-g)+r*r*va)
	ci = [2]float64{(r-h)/(1-g) - 1, (r+h)/(1-g) - 1}
	if !finite(ci[0]) || !finite(ci[1]) {
		return [2]float64{}, g, false
	}
	return ci, g, true
}
