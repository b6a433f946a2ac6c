package stats

import "math"

// SampleSizeProportions returns the per-arm sample size (not rounded; take
// math.Ceil) to detect a change of conversion rate from p1 to p2 with a
// two-sided test of level α and the given power, equal allocation, by the
// normal approximation with pooled null variance (Fleiss, no continuity
// correction):
//
//	n = (z_{1−α/2}·√(2p̄q̄) + z_power·√(p1q1 + p2q2))² / (p2 − p1)²,
//
// p̄ = (p1+p2)/2, q = 1 − p. It returns ErrZeroVariance (n = 0) when
// p1 = p2 and ErrBaselineZero when a rate is outside (0,1).
func SampleSizeProportions(p1, p2, alpha, power float64) (float64, error) {
	if !(p1 > 0 && p1 < 1 && p2 > 0 && p2 < 1) {
		return 0, ErrBaselineZero
	}
	if p1 == p2 {
		return 0, ErrZeroVariance
	}
	za, zb := TwoSidedZ(alpha), NormalQuantile(power)
	pbar := (p1 + p2) / 2
	num := za*math.Sqrt(2*pbar*(1-pbar)) + zb*math.Sqrt(p1*(1-p1)+p2*(1-p2))
	d := p2 - p1
	return num * num / (d * d), nil
}

// SampleSizeMeans returns the per-arm sample size (not rounded) to detect
// an absolute difference δ of a metric with per-unit standard deviation σ,
// two-sided level α and the given power, equal allocation:
//
//	n = 2σ²(z_{1−α/2} + z_power)²/δ².
//
// δ = 0 or σ ≤ 0 gives ErrZeroVariance.
func SampleSizeMeans(sigma, delta, alpha, power float64) (float64, error) {
	if !(sigma > 0) || delta == 0 || !finite(delta) {
		return 0, ErrZeroVariance
	}
	z := TwoSidedZ(alpha) + NormalQuantile(power)
	return 2 * sigma * sigma * z * z / (delta * delta), nil
}

// MDEProportion returns the absolute minimum detectable effect of a
// conversion rate p with n units per arm, two-sided level α and power:
// (z_{1−α/2} + z_power)·√(2p(1−p)/n). Divide by p for the relative MDE.
// n ≤ 0 gives ErrNoUnits.
func MDEProportion(p, n, alpha, power float64) (float64, error) {
	if !(n > 0) {
		return 0, ErrNoUnits
	}
	if !(p > 0 && p < 1) {
		return 0, ErrBaselineZero
	}
	return (TwoSidedZ(alpha) + NormalQuantile(power)) * math.Sqrt(2*p*(1-p)/n), nil
}

// MDEMean returns the absolute minimum detectable effect of a metric with
// standard deviation σ and n units per arm: (z_{1−α/2} + z_power)·σ·√(2/n).
func MDEMean(sigma, n, alpha, power float64) (float64, error) {
	if !(n > 0) {
		return 0, ErrNoUnits
	}
	if !(sigma > 0) {
		return 0, ErrZeroVariance
	}
	return (TwoSidedZ(alpha) + NormalQuantile(power)) * sigma * math.Sqrt(2/n), nil
}

// Power returns the two-sided power of a z test for a true effect Δ whose
// estimate has standard error σ_Δ:
// π = 1 − Φ(z_{1−α/2} − Δ/σ_Δ) + Φ(−z_{1−α/2} − Δ/σ_Δ).
func Power(effect, se, alpha float64) float64 {
	if !(se > 0) {
		return 0
	}
	za := TwoSidedZ(alpha)
	d := effect / se
	return clip01(NormalSF(za-d) + NormalSF(za+d))
}

// SampleSizeCohenH returns the per-arm sample size (not rounded) of the
// two-sided normal test of two proportions on Cohen's effect size
// h = 2·asin√p2 − 2·asin√p1 (statsmodels NormalIndPower, G*Power): the n
// solving Φ(h√(n/2) − z_{1−α/2}) + Φ(−h√(n/2) − z_{1−α/2}) = power, found
// by bisection (the first term alone gives n = 2(z_{1−α/2}+z_power)²/h²).
// p1 = p2 gives ErrZeroVariance.
func SampleSizeCohenH(p1, p2, alpha, power float64) (float64, error) {
	if !(p1 >= 0 && p1 <= 1 && p2 >= 0 && p2 <= 1) {
		return 0, ErrBaselineZero
	}
	h := math.Abs(2*math.Asin(math.Sqrt(p2)) - 2*math.Asin(math.Sqrt(p1)))
	if h == 0 {
		return 0, ErrZeroVariance
	}
	za := TwoSidedZ(alpha)
	pw := func(n float64) float64 {
		d := h * math.Sqrt(n/2)
		return NormalSF(za-d) + NormalSF(za+d)
	}
	lo, hi := 0.0, 2*math.Pow(za+NormalQuantile(power), 2)/(h*h)+1
	for pw(hi) < power {
		hi *= 2
	}
	for i := 0; i < 200 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if pw(mid) < power {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2, nil
}

// SampleSizeMeansT returns the per-arm sample size (not rounded) of the
// two-sided two-sample t test with equal allocation, by the fixed-point
// iteration n = 2σ²(t_{1−α/2,ν} + t_{power,ν})²/δ², ν = 2n − 2, started from
// the normal SampleSizeMeans. It is slightly larger than the normal n and
// matches G*Power's t-test sample sizes after rounding up.
func SampleSizeMeansT(sigma, delta, alpha, power float64) (float64, error) {
	n, err := SampleSizeMeans(sigma, delta, alpha, power)
	if err != nil {
		return 0, err
	}
	for i := 0; i < 50; i++ {
		nu := math.Max(2*n-2, 1)
		// t_{power,ν} = TwoSidedT(2(1−power), ν) for power > 0.5.
		tb := 0.0
		if power > 0.5 {
			tb = TwoSidedT(2*(1-power), nu)
		} else if power < 0.5 {
			tb = -TwoSidedT(2*power, nu)
		}
		s := TwoSidedT(alpha, nu) + tb
		next := 2 * sigma * sigma * s * s / (delta * delta)
		if math.Abs(next-n) < 1e-9*n {
			return next, nil
		}
		n = next
	}
	return n, nil
}
