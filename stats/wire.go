package stats

// This file holds the JSON wire types of `promolift analyze` and
// `promolift plan` (DESIGN.md §5). They are a contract shared by the CLI and
// the server's report code: add fields, never rename them.

// AnalyzeInput is the document `promolift analyze` reads.
type AnalyzeInput struct {
	// Alpha is the two-sided significance level, in (0,1). Nil means 0.05.
	Alpha *float64 `json:"alpha,omitempty"`
	// Engine is "frequentist" (default), "bayesian" or "sequential".
	Engine string `json:"engine,omitempty"`
	// SequentialTuning is N*, the total sample size (all arms of one
	// comparison) at which the confidence sequence is tightest; 0 means 5000.
	SequentialTuning float64 `json:"sequential_tuning,omitempty"`
	// Correction is the multiple-testing correction over all non-guardrail
	// comparisons: "holm" (default), "bh" or "none".
	Correction string `json:"correction,omitempty"`
	// Control is the key of the control variant.
	Control string `json:"control"`
	// Variants lists every arm with its designed weight and unit count.
	Variants []VariantInput `json:"variants"`
	// Metrics holds the sufficient statistics per metric and variant.
	Metrics []MetricInput `json:"metrics"`
	// ROIMetric names a mean metric (revenue per unit) for the ROI.
	ROIMetric string `json:"roi_metric,omitempty"`
	// ROIVariant names the treatment of the top-level ROI; default: the
	// personalized variant if set, else the first non-control variant.
	ROIVariant string `json:"roi_variant,omitempty"`
	// Personalization asks for the personalization lift.
	Personalization *PersonalizationInput `json:"personalization,omitempty"`
	// Prior is the Bayesian prior on the relative lift; nil is flat.
	Prior *PriorInput `json:"prior,omitempty"`
	// Alternative is "two-sided" (default), "greater" (H1: treatment −
	// control > 0) or "less", for the frequentist and sequential p-values
	// and the one-sided intervals; one-sided needs alpha < 0.5.
	Alternative string `json:"alternative,omitempty"`
	// Power asks for the power during the test of every comparison
	// against a planned relative MDE.
	Power *PowerInput `json:"power,omitempty"`
}

// PowerInput is the plan a running test is measured against: the relative
// minimum detectable effect MDERelative (> 0), the target power (default
// 0.8) and the days the test has run so far (optional; without it
// days_needed is null).
type PowerInput struct {
	MDERelative float64  `json:"mde_relative"`
	Target      *float64 `json:"target_power,omitempty"`
	ElapsedDays *float64 `json:"elapsed_days,omitempty"`
}

// VariantInput is one arm of the experiment.
type VariantInput struct {
	Key string `json:"key"`
	// Weight is the designed traffic weight (any non-negative scale).
	Weight float64 `json:"weight"`
	// Units is the number of units (customers) exposed to the arm.
	Units float64 `json:"units"`
	// PromotionCost is the total promotion cost of the arm, in the
	// currency unit of the ROI metric.
	PromotionCost float64 `json:"promotion_cost"`
}

// MetricInput is one metric's sufficient statistics.
type MetricInput struct {
	Key string `json:"key"`
	// Type is "proportion" (sum = conversions), "mean" (sum, sum_squares),
	// "ratio" (numerator and denominator sums) or "quantile".
	Type string `json:"type"`
	// Role is "primary", "secondary" (default) or "guardrail"; guardrails
	// are left out of the multiple-testing family.
	Role string `json:"role,omitempty"`
	// Stats maps every variant key to its statistics.
	Stats map[string]ArmStats `json:"stats"`
	// LowerIsBetter marks a metric whose decrease is an improvement
	// (refund rate, cost per order): chance to win, direction and risks
	// follow it.
	LowerIsBetter bool `json:"lower_is_better,omitempty"`
	// Quantile is the quantile level in (0,1) of a "quantile" metric.
	Quantile *float64 `json:"quantile,omitempty"`
	// Strata maps stratum → variant → statistics; given instead of Stats
	// (proportion and mean metrics), it switches post-stratification on.
	Strata map[string]map[string]ArmStats `json:"strata,omitempty"`
}

// ArmStats are one arm's sufficient statistics of one metric. Optional
// fields are pointers so that absence can be told from zero.
type ArmStats struct {
	// Units overrides the variant's unit count for this metric.
	Units *float64 `json:"units,omitempty"`
	// Sum is Σy (conversions for a proportion, numerator for a ratio).
	Sum float64 `json:"sum"`
	// SumSquares is Σy², required for mean and ratio metrics.
	SumSquares *float64 `json:"sum_squares,omitempty"`
	// PreSum, PreSumSquares and PreCrossSum are Σx, Σx² and Σxy of a
	// pre-period covariate x; all three switch CUPED on (mean and
	// proportion metrics; for ratio metrics x is the pre-period numerator).
	PreSum        *float64 `json:"pre_sum,omitempty"`
	PreSumSquares *float64 `json:"pre_sum_squares,omitempty"`
	PreCrossSum   *float64 `json:"pre_cross_sum,omitempty"`
	// DenominatorSum, DenominatorSumSquares and CrossSum are ΣD, ΣD² and
	// ΣMD of a ratio metric M/D.
	DenominatorSum        *float64 `json:"denominator_sum,omitempty"`
	DenominatorSumSquares *float64 `json:"denominator_sum_squares,omitempty"`
	CrossSum              *float64 `json:"cross_sum,omitempty"`
	// Regression-adjusted ratio metrics (gbstats'
	// RegressionAdjustedRatioStatistic) add to PreSum, PreSumSquares
	// (numerator M_pre) and PreCrossSum (Σ M_post·M_pre) the pre-period
	// denominator sums ΣD_pre, ΣD_pre² and the cross sums Σ D_post·D_pre,
	// Σ M_pre·D_pre, Σ M_post·D_pre and Σ M_pre·D_post.
	PreDenominatorSum        *float64 `json:"pre_denominator_sum,omitempty"`
	PreDenominatorSumSquares *float64 `json:"pre_denominator_sum_squares,omitempty"`
	DPostDPreSumOfProducts   *float64 `json:"d_post_d_pre_sum_of_products,omitempty"`
	MPreDPreSumOfProducts    *float64 `json:"m_pre_d_pre_sum_of_products,omitempty"`
	MPostDPreSumOfProducts   *float64 `json:"m_post_d_pre_sum_of_products,omitempty"`
	MPreDPostSumOfProducts   *float64 `json:"m_pre_d_post_sum_of_products,omitempty"`
	// Quantile metrics: the sample quantile and the order statistics at
	// the ranks n·q ∓ z_{0.975}·√(n·q(1−q)) (gbstats' QuantileStatistic
	// with n* = n); Units is the number of values (units or orders).
	QuantileValue *float64 `json:"quantile_value,omitempty"`
	QuantileLower *float64 `json:"quantile_lower,omitempty"`
	QuantileUpper *float64 `json:"quantile_upper,omitempty"`
}

// PersonalizationInput names the personalized and the generic arm; Metric
// defaults to the first primary metric (else the first metric).
type PersonalizationInput struct {
	Personalized string `json:"personalized"`
	Generic      string `json:"generic"`
	Metric       string `json:"metric,omitempty"`
}

// PriorInput is a normal prior N(mean, stddev²) on the relative lift used
// by the Bayesian engine when Proper is true; stddev 0 means 0.3.
type PriorInput struct {
	Proper bool    `json:"proper"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
}

// AnalyzeOutput is the document `promolift analyze` writes. No number in
// it is NaN or Inf; an undefined quantity is null.
type AnalyzeOutput struct {
	Alpha               float64         `json:"alpha"`
	Engine              string          `json:"engine"`
	Correction          string          `json:"correction"`
	Control             string          `json:"control"`
	Variants            []VariantOutput `json:"variants"`
	Metrics             []MetricOutput  `json:"metrics"`
	SRM                 SRMOutput       `json:"srm"`
	ROI                 *ROIOutput      `json:"roi"`
	PersonalizationLift *PersLiftOutput `json:"personalization_lift"`
	Warnings            []string        `json:"warnings"`
	// Alternative echoes the input's alternative ("two-sided" by default).
	Alternative string `json:"alternative"`
}

// VariantOutput echoes an arm with its observed traffic share.
type VariantOutput struct {
	Key           string  `json:"key"`
	Units         float64 `json:"units"`
	Weight        float64 `json:"weight"`
	ExpectedShare float64 `json:"expected_share"`
	ObservedShare float64 `json:"observed_share"`
	PromotionCost float64 `json:"promotion_cost"`
}

// MetricOutput holds a metric's per-arm summaries and one comparison per
// non-control variant.
type MetricOutput struct {
	Key         string             `json:"key"`
	Type        string             `json:"type"`
	Role        string             `json:"role"`
	Arms        []ArmOutput        `json:"arms"`
	Comparisons []ComparisonOutput `json:"comparisons"`
	// LowerIsBetter and Quantile echo the input.
	LowerIsBetter bool     `json:"lower_is_better"`
	Quantile      *float64 `json:"quantile,omitempty"`
	// Strata lists the strata of a post-stratified metric (sorted).
	Strata []string `json:"strata,omitempty"`
}

// ArmOutput is one arm's estimate: the mean (rate for proportions, ratio
// for ratio metrics), the per-unit variance and the standard error of the
// mean. Error is set when the arm has no usable data.
type ArmOutput struct {
	Variant  string   `json:"variant"`
	Units    float64  `json:"units"`
	Sum      float64  `json:"sum"`
	Mean     float64  `json:"mean"`
	Rate     *float64 `json:"rate,omitempty"`
	Variance float64  `json:"variance"`
	SE       float64  `json:"se"`
	Error    *string  `json:"error"`
}

// ComparisonOutput compares one variant with control on one metric.
type ComparisonOutput struct {
	Variant  string          `json:"variant"`
	Absolute AbsoluteOutput  `json:"absolute"`
	Relative *RelativeOutput `json:"relative"`
	// AdjustedPValue is the corrected p-value of the engine's p-value
	// (absolute.p_value, or sequential.p_value for the sequential engine);
	// equal to it for guardrails, errors and correction "none".
	AdjustedPValue float64 `json:"adjusted_p_value"`
	// InFamily tells whether the comparison is in the correction family.
	InFamily bool `json:"in_family"`
	// Significant is AdjustedPValue < alpha (never when the absolute result
	// has an error; baseline_zero only affects the relative lift).
	Significant bool `json:"significant"`
	// Direction is "better" or "worse" when significant (following
	// lower_is_better), else "none".
	Direction  string            `json:"direction"`
	Bayesian   *BayesianOutput   `json:"bayesian,omitempty"`
	Sequential *SequentialOutput `json:"sequential,omitempty"`
	CUPED      *CUPEDOutput      `json:"cuped,omitempty"`
	ROI        *ROIOutput        `json:"roi,omitempty"`
	// PostStratification and Unstratified are set for a metric given by
	// strata: absolute and relative are then the post-stratified results,
	// and Unstratified holds those of the summed statistics.
	PostStratification *PostStratOutput    `json:"post_stratification,omitempty"`
	Unstratified       *UnstratifiedOutput `json:"unstratified,omitempty"`
	// Power is the power during the test against the planned MDE.
	Power    *PowerOutput `json:"power,omitempty"`
	Error    *string      `json:"error"`
	Warnings []string     `json:"warnings"`
}

// OneSidedCI is a one-sided interval; the open end is null.
type OneSidedCI [2]*float64

// PostStratOutput describes the post-stratified estimate: the strata
// used (strata with an arm of fewer than 2 units are pooled into one),
// and VarianceReduction = 1 − se²/se²_unstratified of the absolute
// difference.
type PostStratOutput struct {
	Strata            int     `json:"strata"`
	Pooled            int     `json:"pooled"`
	VarianceReduction float64 `json:"variance_reduction"`
}

// UnstratifiedOutput is the comparison of the strata's summed statistics.
type UnstratifiedOutput struct {
	Absolute AbsoluteOutput  `json:"absolute"`
	Relative *RelativeOutput `json:"relative"`
}

// PowerOutput is the power during the test: the probability that the
// test, run at its current size, detects a true effect of the planned
// relative MDE (absolute MDE = mde_relative × |control mean|), and the
// units (both arms) and days still needed to reach the target power
// (0 when reached; null when it cannot be reached within 1e6 times the
// current size, or without elapsed_days).
type PowerOutput struct {
	MDERelative     float64  `json:"mde_relative"`
	MDEAbsolute     float64  `json:"mde_absolute"`
	Target          float64  `json:"target_power"`
	Power           float64  `json:"power"`
	AdditionalUnits *float64 `json:"additional_units"`
	DaysNeeded      *float64 `json:"days_needed"`
	Error           *string  `json:"error"`
}

// AbsoluteOutput is the difference treatment − control. For proportions
// p_value is the pooled two-proportion z test (also in pooled_z_p_value)
// and ci the unpooled Wald interval (df null); for mean and ratio metrics
// both come from Welch's t test with df the Welch–Satterthwaite df.
type AbsoluteOutput struct {
	Estimate      float64    `json:"estimate"`
	SE            float64    `json:"se"`
	DF            *float64   `json:"df"`
	Stat          float64    `json:"stat"`
	CI            [2]float64 `json:"ci"`
	PValue        float64    `json:"p_value"`
	PooledZPValue *float64   `json:"pooled_z_p_value,omitempty"`
	Method        string     `json:"method"`
	// CIOneSided is the one-sided (1−α) interval matching p_value when the
	// alternative is one-sided (p_value is then one-sided; ci stays the
	// two-sided (1−α) interval).
	CIOneSided *OneSidedCI `json:"ci_one_sided,omitempty"`
}

// RelativeOutput is the relative lift (treatment − control)/|control| by the
// delta method: ci with the Welch-df t quantile, ci_normal with z, and
// ci_fieller (null when unbounded, i.e. fieller_g ≥ 1, for a negative
// control mean or with CUPED). Unreliable is fieller_g ≥ 1.
type RelativeOutput struct {
	Estimate   float64     `json:"estimate"`
	SE         float64     `json:"se"`
	DF         *float64    `json:"df"`
	CI         [2]float64  `json:"ci"`
	CINormal   [2]float64  `json:"ci_normal"`
	CIFieller  *[2]float64 `json:"ci_fieller"`
	FiellerG   float64     `json:"fieller_g"`
	Unreliable bool        `json:"unreliable"`
	PValue     float64     `json:"p_value"`
	CIOneSided *OneSidedCI `json:"ci_one_sided,omitempty"`
}

// BayesianOutput is the Gaussian posterior of the relative lift and, for
// proportions, the exact Beta–Binomial result (Beta(1,1) priors, absolute
// rate scale).
type BayesianOutput struct {
	ChanceToWin   float64             `json:"chance_to_win"`
	RiskControl   float64             `json:"risk_control"`
	RiskTreatment float64             `json:"risk_treatment"`
	CI            [2]float64          `json:"ci"`
	Mean          float64             `json:"mean"`
	SD            float64             `json:"sd"`
	BetaBinomial  *BetaBinomialOutput `json:"beta_binomial,omitempty"`
	Error         *string             `json:"error"`
	// Absolute is the Gaussian posterior of the absolute difference, with
	// the prior rescaled by |control mean| (N(μ0·|m_a|, (σ0·|m_a|)²)).
	Absolute *BayesianScaleOutput `json:"absolute,omitempty"`
}

// BayesianScaleOutput is a Gaussian posterior summary on one scale.
type BayesianScaleOutput struct {
	ChanceToWin   float64    `json:"chance_to_win"`
	RiskControl   float64    `json:"risk_control"`
	RiskTreatment float64    `json:"risk_treatment"`
	CI            [2]float64 `json:"ci"`
	Mean          float64    `json:"mean"`
	SD            float64    `json:"sd"`
	Error         *string    `json:"error"`
}

// BetaBinomialOutput is BetaBinomialResult on the wire.
type BetaBinomialOutput struct {
	ChanceToWin   float64 `json:"chance_to_win"`
	RiskControl   float64 `json:"risk_control"`
	RiskTreatment float64 `json:"risk_treatment"`
}

// SequentialOutput is the always-valid result of the absolute difference
// (ci, p_value) and the always-valid CI of the relative lift.
type SequentialOutput struct {
	CI         [2]float64  `json:"ci"`
	HalfWidth  float64     `json:"halfwidth"`
	PValue     float64     `json:"p_value"`
	RelativeCI *[2]float64 `json:"relative_ci"`
	Tuning     float64     `json:"tuning"`
	// RelativePValue is the always-valid p-value of the relative lift, the
	// one belonging to relative_ci (p_value belongs to ci).
	RelativePValue *float64 `json:"relative_p_value"`
	// CIOneSided and RelativeCIOneSided are the one-sided confidence
	// sequences when the alternative is one-sided.
	CIOneSided         *OneSidedCI `json:"ci_one_sided,omitempty"`
	RelativeCIOneSided *OneSidedCI `json:"relative_ci_one_sided,omitempty"`
}

// CUPEDOutput reports the regression adjustment.
type CUPEDOutput struct {
	Theta             float64 `json:"theta"`
	VarianceReduction float64 `json:"variance_reduction"`
	Applied           bool    `json:"applied"`
}

// SRMOutput is SRMResult on the wire.
type SRMOutput struct {
	Chi2     float64  `json:"chi2"`
	DF       float64  `json:"df"`
	PValue   float64  `json:"p_value"`
	Flagged  bool     `json:"flagged"`
	Warnings []string `json:"warnings"`
}

// ROIOutput is ROIResult on the wire; roi and roi_percent are null with
// error nonpositive_cost.
type ROIOutput struct {
	Variant            string      `json:"variant"`
	Metric             string      `json:"metric"`
	Cost               float64     `json:"cost"`
	IncrementalRevenue float64     `json:"incremental_revenue"`
	IncrementalCI      [2]float64  `json:"incremental_ci"`
	Net                float64     `json:"net"`
	ROI                *float64    `json:"roi"`
	ROIPercent         *float64    `json:"roi_percent"`
	CI                 *[2]float64 `json:"ci"`
	Error              *string     `json:"error"`
}

// PersLiftOutput is the personalization lift (personalized −
// generic)/|generic| on Metric with its delta-method CI (Welch-df t).
type PersLiftOutput struct {
	Metric       string      `json:"metric"`
	Personalized string      `json:"personalized"`
	Generic      string      `json:"generic"`
	Estimate     float64     `json:"estimate"`
	SE           float64     `json:"se"`
	CI           *[2]float64 `json:"ci"`
	CINormal     *[2]float64 `json:"ci_normal"`
	PValue       float64     `json:"p_value"`
	Error        *string     `json:"error"`
}

// PlanInput is the document `promolift plan` reads. For proportions give
// baseline and treatment (or mde_relative); for means sigma and delta (or
// mde_relative with baseline). With n_per_variant the MDE is computed
// instead of the sample size.
type PlanInput struct {
	Metric      string   `json:"metric"`
	Baseline    *float64 `json:"baseline,omitempty"`
	Treatment   *float64 `json:"treatment,omitempty"`
	MDERelative *float64 `json:"mde_relative,omitempty"`
	Sigma       *float64 `json:"sigma,omitempty"`
	Delta       *float64 `json:"delta,omitempty"`
	NPerVariant *float64 `json:"n_per_variant,omitempty"`
	Alpha       *float64 `json:"alpha,omitempty"`
	Power       *float64 `json:"power,omitempty"`
	// Variants is the number of arms (default 2) for n_total.
	Variants *int `json:"variants,omitempty"`
}

// PlanOutput answers a PlanInput: n_per_variant (rounded up), n_total,
// and the MDE absolute and relative (null when no baseline is known).
type PlanOutput struct {
	Metric      string   `json:"metric"`
	Alpha       float64  `json:"alpha"`
	Power       float64  `json:"power"`
	NPerVariant float64  `json:"n_per_variant"`
	NTotal      float64  `json:"n_total"`
	MDEAbsolute float64  `json:"mde_absolute"`
	MDERelative *float64 `json:"mde_relative"`
}
