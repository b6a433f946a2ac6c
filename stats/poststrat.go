package stats

import "math"

// Stratum holds both arms' summaries within one stratum.
type Stratum struct {
	A, B Summary
}

// PostStratResult is a post-stratified comparison: the absolute
// difference (z test), the relative lift, and the strata used.
type PostStratResult struct {
	Absolute    Effect
	Relative    Relative
	RelativeErr error
	// Strata is the number of strata after pooling; Pooled the number of
	// input strata pooled into one because an arm had fewer than 2 units.
	Strata, Pooled int
}

// PostStratify returns the post-stratified difference of means (Miratrix,
// Sekhon & Yu 2013), with stratum weights w_s = (n_a,s + n_b,s)/N
// estimated from both arms:
//
//	m̂_a = Σ w_s·m_a,s,  m̂_b = Σ w_s·m_b,s,  Δ = m̂_b − m̂_a,
//	Var(m̂_x) = Σ w_s²·v_x,s/n_x,s,  se² = Var(m̂_a) + Var(m̂_b),
//
// (the variance conditional on the stratum sizes), tested by the z test:
// z = Δ/se, p = 2Φ(−|z|), CI = Δ ± z_{1−α/2}·se. The relative lift is
// L = Δ/|m̂_a| with Var(L) = Var(m̂_b)/m̂_a² + m̂_b²·Var(m̂_a)/m̂_a⁴ and normal
// CIs. The per-unit variances v are those of the arm Summaries
// (p(1−p) for proportions, s² for means). Every stratum needs at least 2
// units in each arm, else ErrInsufficientSample (Analyze first pools the
// strata that have not into one); an empty list gives ErrNoUnits.
func PostStratify(strata []Stratum, alpha float64) (PostStratResult, error) {
	res := PostStratResult{Absolute: Effect{PValue: 1}, Relative: Relative{PValue: 1}, Strata: len(strata)}
	var n float64
	for _, s := range strata {
		if s.A.N < 2 || s.B.N < 2 {
			return res, ErrInsufficientSample
		}
		n += s.A.N + s.B.N
	}
	if len(strata) == 0 || !(n > 0) {
		return res, ErrNoUnits
	}
	var ma, mb, va, vb float64
	for _, s := range strata {
		w := (s.A.N + s.B.N) / n
		ma += w * s.A.Mean
		mb += w * s.B.Mean
		va += w * w * s.A.Variance / s.A.N
		vb += w * w * s.B.Variance / s.B.N
	}
	d := mb - ma
	se := math.Sqrt(va + vb)
	inf := math.Inf(1)
	res.Absolute = Effect{Estimate: d, DF: inf, PValue: 1, CI: [2]float64{d, d}}
	var err error
	if se == 0 || !finite(se) {
		if d != 0 {
			err = ErrZeroVariance
		}
	} else {
		q := TwoSidedZ(alpha) * se
		res.Absolute = Effect{Estimate: d, SE: se, DF: inf, Stat: d / se, PValue: clip01(2 * NormalSF(math.Abs(d/se))), CI: [2]float64{d - q, d + q}}
	}
	if ma == 0 {
		res.RelativeErr = ErrBaselineZero
		return res, err
	}
	l := d / math.Abs(ma)
	v := vb/(ma*ma) + mb*mb*va/(ma*ma*ma*ma)
	if !finite(v) || v < 0 {
		v = 0
	}
	res.Relative = relativeFromSE(l, math.Sqrt(v), alpha, inf)
	if v == 0 && l != 0 {
		res.RelativeErr = ErrZeroVariance
	}
	return res, err
}
