package stats

import "math"

// PowerEngine describes how a running comparison decides significance,
// for PowerDuringTest: the engine ("frequentist", "sequential" or
// "bayesian"), the alternative, alpha, the sequential tuning N* and the
// Bayesian prior on the absolute scale.
type PowerEngine struct {
	Engine      string
	Alternative string
	Alpha       float64
	Tuning      float64
	Prior       Prior
}

// PowerDuringTest returns the probability that a comparison whose absolute
// difference has standard error se after n units (both arms) declares a
// true effect of size mde > 0 (in the alternative's direction; "greater"
// for two-sided) significant:
//
//	frequentist  two-sided  Φ(δ − z_{1−α/2}) + Φ(−δ − z_{1−α/2}),  one-sided Φ(δ − z_{1−α}),
//	sequential   the same with z replaced by h/se, h the confidence-sequence
//	             half-width at n (two- or one-sided),
//	bayesian     the credible interval (1−α) excludes 0: with the prior
//	             N(μ0, σ0²) (p0 = 1/σ0², 0 if flat), V = se² and
//	             s = (1/V + p0)^−½, it does when the estimate exceeds
//	             c± = V(±z_{1−α/2}/s − μ0·p0), so
//	             power = Φ((mde − c+)/se) + Φ((c− − mde)/se),
//
// with δ = mde/se. It returns 0 when se ≤ 0 or n ≤ 0.
func PowerDuringTest(mde, se, n float64, e PowerEngine) float64 {
	if !(se > 0) || !(n > 0) || !finite(se) {
		return 0
	}
	d := mde / se
	switch e.Engine {
	case "sequential":
		var h float64
		if e.Alternative == AltGreater || e.Alternative == AltLess {
			s, _ := ConfidenceSequenceOneSided(0, se, n, e.Tuning, e.Alpha, AltGreater)
			return clip01(NormalSF(s.HalfWidth/se - d))
		}
		s, _ := ConfidenceSequence(0, se, n, e.Tuning, e.Alpha)
		h = s.HalfWidth / se
		return clip01(NormalSF(h-d) + NormalSF(h+d))
	case "bayesian":
		v := se * se
		var p0, m0 float64
		if e.Prior.Proper && e.Prior.SD > 0 {
			p0, m0 = 1/(e.Prior.SD*e.Prior.SD), e.Prior.Mean
		}
		s := math.Sqrt(1 / (1/v + p0))
		z := TwoSidedZ(e.Alpha)
		hi := v * (z/s - m0*p0)
		lo := v * (-z/s - m0*p0)
		return clip01(NormalSF((hi-mde)/se) + NormalSF((mde-lo)/se))
	}
	if e.Alternative == AltGreater || e.Alternative == AltLess {
		return clip01(NormalSF(-NormalQuantile(e.Alpha) - d))
	}
	za := TwoSidedZ(e.Alpha)
	return clip01(NormalSF(za-d) + NormalSF(za+d))
}

// maxPowerScale bounds the growth factor PowerScale searches.
const maxPowerScale = 1e6

// PowerScale returns the factor k ≥ 1 by which the comparison's units must
// grow (se → se/√k, n → k·n) for PowerDuringTest to reach target, found by
// bisection on ln k; k = 1 when it already does, ok = false when k would
// exceed 1e6.
func PowerScale(mde, se, n, target float64, e PowerEngine) (k float64, ok bool) {
	pw := func(k float64) float64 { return PowerDuringTest(mde, se/math.Sqrt(k), n*k, e) }
	if pw(1) >= target {
		return 1, true
	}
	if pw(maxPowerScale) < target {
		return 0, false
	}
	lo, hi := 0.0, math.Log(maxPowerScale)
	for i := 0; i < 200 && hi-lo > 1e-13; i++ {
		mid := (lo + hi) / 2
		if pw(math.Exp(mid)) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp(hi), true
}
