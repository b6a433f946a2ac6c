package stats

import "math"

// DefaultSequentialTuning is the default tuning sample size N* (total units
// over both arms) at which the confidence sequence is tightest.
const DefaultSequentialTuning = 5000

// Sequential is an always-valid result: the confidence-sequence half-width,
// the interval Estimate ± HalfWidth, and the always-valid p-value.
type Sequential struct {
	HalfWidth float64
	CI        [2]float64
	PValue    float64
}

// ConfidenceSequence returns the normal-mixture confidence sequence
// (Howard et al. 2021; Waudby-Smith et al. 2023, as in GrowthBook) for an
// asymptotically normal estimate est with standard error se after n units
// in total (both arms), tuned for N* = tuning (≤ 0 means 5000):
//
//	ρ² = (−2 ln α + ln(1 − 2 ln α))/N*,  r = n·ρ²,
//	halfwidth = se·√((1+r)/r · ln((1+r)/α²)),
//	p = min(1, √(1+r)·exp(−z²·r/(2(1+r)))),  z = est/se.
//
// The CI is valid at every look simultaneously; callers wanting the mSPRT
// running minimum keep min(p) across looks. se = 0 gives half-width 0 and
// p = 1 when est = 0, ErrZeroVariance otherwise; n ≤ 0 gives ErrNoUnits.
func ConfidenceSequence(est, se, n, tuning, alpha float64) (Sequential, error) {
	if res, err, done := sequentialDegenerate(est, se, n); done {
		return res, err
	}
	if !(tuning > 0) {
		tuning = DefaultSequentialTuning
	}
	la := math.Log(alpha)
	rho2 := (-2*la + math.Log(1-2*la)) / tuning
	r := n * rho2
	hw := se * math.Sqrt((1+r)/r*(math.Log1p(r)-2*la))
	z := est / se
	lp := 0.5*math.Log1p(r) - z*z*r/(2*(1+r))
	p := 1.0
	if lp < 0 {
		p = math.Exp(lp)
	}
	return Sequential{HalfWidth: hw, CI: [2]float64{est - hw, est + hw}, PValue: p}, nil
}

// sequentialDegenerate returns the result of a confidence sequence with no
// units (ErrNoUnits) or no variance (p = 1, the point interval, and
// ErrZeroVariance unless est = 0); done is false otherwise.
func sequentialDegenerate(est, se, n float64) (res Sequential, err error, done bool) {
	res = Sequential{CI: [2]float64{est, est}, PValue: 1}
	switch {
	case !(n > 0):
		return res, ErrNoUnits, true
	case !(se > 0) || !finite(se):
		if est != 0 {
			err = ErrZeroVariance
		}
		return res, err, true
	}
	return res, nil, false
}
