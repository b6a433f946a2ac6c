// Package stats owns the statistics of promolift: everything that turns
// per-variant sufficient statistics into decisions.
//
// It never sees raw rows. Its inputs are, per variant and metric, the unit
// count n, the sums S = Σy and Q = Σy², and optionally the pre-period sums
// Σx, Σx², Σxy (CUPED) or the denominator sums ΣD, ΣD², ΣMD (ratio metrics).
// From them it computes:
//
//   - per-arm estimates (rate or mean and per-unit variance),
//   - the pooled two-proportion z test and the unpooled Wald interval,
//   - Welch's t test with Welch–Satterthwaite degrees of freedom,
//   - the relative lift by the delta method and by Fieller's theorem,
//   - the Beta–Binomial and Gaussian Bayesian summaries (chance to win,
//     expected loss, credible interval),
//   - one-sided tests (t, pooled z and the one-sided confidence sequence),
//   - the normal-mixture confidence sequence (always-valid CI and p-value),
//   - CUPED regression adjustment for means and proportions, ratio metrics
//     by the delta method and regression-adjusted ratios (gbstats'
//     RegressionAdjustedRatioStatistic),
//   - post-stratification over strata (e.g. RFM segments),
//   - quantile metrics from order statistics (gbstats' QuantileStatistic),
//   - power during the test and the units and days still needed,
//   - the sample-ratio-mismatch chi-square test, Holm and Benjamini–Hochberg
//     corrections, sample size and minimum detectable effect,
//   - promotion ROI and personalization lift with confidence intervals.
//
// Analyze and Plan implement the JSON contract of `promolift analyze` and
// `promolift plan`; their input and output types are wire types and carry
// JSON tags on purpose. The formulas and their sources are described in
// stats-methods.md of the design notes; every exported function documents
// its own formula.
//
// The package is pure (no I/O, no clock, no logging), imports only the
// standard library and gonum, never panics on data and never returns NaN or
// Inf for data: degenerate inputs give a result carrying one of the error
// codes ErrNoUnits, ErrInsufficientSample, ErrZeroVariance, ErrBaselineZero
// or ErrNonpositiveCost, and small samples carry the warning WarnLowSample.
package stats
