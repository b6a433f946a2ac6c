package stats

import "math"

// quantileBandZ is z_{0.975}: the quantile's lower and upper order
// statistics are taken at the 95% ranks whatever the test's alpha, as in
// gbstats' QuantileStatistic.
var quantileBandZ = TwoSidedZ(0.05)

// QuantileSummary returns the Summary of a sample quantile for a
// quantile metric (gbstats' QuantileStatistic with n* = n): n values, the
// sample q-quantile value and the order statistics lower and upper at the
// ranks n·q ∓ z_{0.975}·√(n·q(1−q)). The standard error of the quantile is
// (upper − lower)/(2·z_{0.975}) (the binomial order-statistic interval,
// Price & Bonett 2001), and the per-unit variance is
//
//	v = (n − 1)·((upper − lower)/(2·z_{0.975}))²,
//
// so that v/n is gbstats' variance/n. n ≤ 0 gives ErrNoUnits; a sample too
// small for the ranks to lie inside it, n ≤ z²·q/(1−q) or
// n ≤ z²·(1−q)/q, gives ErrInsufficientSample (as gbstats).
func QuantileSummary(n, q, value, lower, upper float64) (Summary, error) {
	if !(n > 0) {
		return Summary{}, ErrNoUnits
	}
	z2 := quantileBandZ * quantileBandZ
	if n < 2 || n <= z2*q/(1-q) || n <= z2*(1-q)/q {
		return Summary{N: n, Mean: value}, ErrInsufficientSample
	}
	h := (upper - lower) / (2 * quantileBandZ)
	v := (n - 1) * h * h
	if !finite(v) {
		v = 0
	}
	return Summary{N: n, Mean: value, Variance: math.Max(v, 0)}, nil
}

// QuantileRanks returns the 1-based ranks in a sorted sample of n values
// of the order statistics a quantile metric's arm needs (QuantileSummary):
// the sample q-quantile at rank ⌈n·q⌉ (the inverse of the empirical
// distribution function, SQL's percentile_disc) and the lower and upper
// CI order statistics at ranks
//
//	⌈n·q ∓ z_{0.975}·√(n·q(1−q))⌉,
//
// each clamped to [1, n]. n ≤ 0 gives zeros.
func QuantileRanks(n int64, q float64) (value, lower, upper int64) {
	if n <= 0 {
		return 0, 0, 0
	}
	nf := float64(n)
	h := quantileBandZ * math.Sqrt(nf*q*(1-q))
	rank := func(x float64) int64 {
		r := int64(math.Ceil(x))
		return min(max(r, 1), n)
	}
	return rank(nf * q), rank(nf*q - h), rank(nf*q + h)
}
