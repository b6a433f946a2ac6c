package stats

// ROIResult is the return on a promotion's cost. IncrementalRevenue =
// (RPU_t − RPU_c)·n_t, Net = IncrementalRevenue − cost, ROI = Net/cost as a
// fraction, ROIPercent = 100·ROI, and CI the interval of ROI; IncrementalCI
// is the interval of IncrementalRevenue.
type ROIResult struct {
	IncrementalRevenue float64
	IncrementalCI      [2]float64
	Net                float64
	ROI                float64
	ROIPercent         float64
	CI                 [2]float64
}

// ROI returns the promotion ROI from the revenue-per-unit difference rpu
// (an Effect of treatment minus control, e.g. from WelchTest), the number of
// treated units nTreatment and the promotion cost:
//
//	incremental = Δ_RPU·n_t,  net = incremental − cost,  ROI = net/cost,
//	CI(ROI) = (n_t·CI(Δ_RPU) − cost)/cost,
//
// valid because the cost is fixed and the map is monotone. cost ≤ 0 gives
// ErrNonpositiveCost with IncrementalRevenue, IncrementalCI and Net still set.
func ROI(rpu Effect, nTreatment, cost float64) (ROIResult, error) {
	r := ROIResult{
		IncrementalRevenue: rpu.Estimate * nTreatment,
		IncrementalCI:      [2]float64{rpu.CI[0] * nTreatment, rpu.CI[1] * nTreatment},
	}
	r.Net = r.IncrementalRevenue - cost
	if !(cost > 0) || !finite(cost) {
		return r, ErrNonpositiveCost
	}
	r.ROI = r.Net / cost
	r.ROIPercent = 100 * r.ROI
	r.CI = [2]float64{(r.IncrementalCI[0] - cost) / cost, (r.IncrementalCI[1] - cost) / cost}
	return r, nil
}
