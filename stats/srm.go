package stats

import "gonum.org/v1/gonum/stat/distuv"

// SRMThreshold is the p-value below which a sample-ratio mismatch is flagged.
const SRMThreshold = 0.001

// SRMResult is Pearson's goodness-of-fit test of the observed unit counts
// against the designed weights.
type SRMResult struct {
	Chi2    float64
	DF      float64
	PValue  float64
	Flagged bool
	// Warnings: "units_in_zero_weight_arm", "low_expected_count".
	Warnings []string
}

// SRM tests observed unit counts o_i against designed weights w_i:
// arms with w_i ≤ 0 are dropped, e_i = w_i/Σw · N with N the observed total
// over the kept arms, χ² = Σ(o_i − e_i)²/e_i, df = k − 1 (k kept arms) and
// p = P(χ²_df > χ²) by the survival function. Flagged when p < 0.001, or when
// a dropped (zero-weight) arm has units, which is a mismatch by definition.
// N = 0 or k < 2 gives χ² = 0, p = 1. An expected count below 5 adds the
// warning "low_expected_count". Slices of different lengths use the shorter.
func SRM(observed, weights []float64) SRMResult {
	k := min(len(observed), len(weights))
	res := SRMResult{PValue: 1}
	var wsum, n float64
	kept := 0
	for i := 0; i < k; i++ {
		if weights[i] > 0 && finite(weights[i]) {
			wsum += weights[i]
			n += observed[i]
			kept++
		} else if observed[i] > 0 {
			res.Flagged = true
			res.Warnings = append(res.Warnings, "units_in_zero_weight_arm")
		}
	}
	if kept < 2 || !(n > 0) || !finite(wsum) {
		return res
	}
	res.DF = float64(kept - 1)
	low := false
	for i := 0; i < k; i++ {
		if !(weights[i] > 0) || !finite(weights[i]) {
			continue
		}
		e := weights[i] / wsum * n
		if e < 5 {
			low = true
		}
		d := observed[i] - e
		res.Chi2 += d * d / e
	}
	if low {
		res.Warnings = append(res.Warnings, "low_expected_count")
	}
	if !finite(res.Chi2) {
		res.Chi2, res.PValue = 0, 1
		return res
	}
	res.PValue = clip01(distuv.ChiSquared{K: res.DF}.Survival(res.Chi2))
	if res.PValue < SRMThreshold {
		res.Flagged = true
	}
	return res
}
