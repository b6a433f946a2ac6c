package experiments

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/promolift/promolift/stats"
)

// ReportOptions tune Service.Report.
type ReportOptions struct {
	// MultipleExposure says what to do with units exposed to more than one
	// variant: MultipleExclude (default) or MultipleFirst.
	MultipleExposure MultipleExposure
	// NoSeries skips the daily cumulative series (one store query per day).
	NoSeries bool
	// NoBreakdowns skips the per-dimension breakdowns.
	NoBreakdowns bool
}

// Limits of a report.
const (
	// MaxSeriesPoints caps the daily series; longer experiments are sampled
	// every few days (the last point is always the report's time).
	MaxSeriesPoints = 60
	// MaxSlices caps the slices of one breakdown dimension: the largest
	// slices by units are kept.
	MaxSlices = 50
	// MaxHourChannelSlices caps the cells of the hour × channel grid: 24
	// hours of up to 8 channels.
	MaxHourChannelSlices = 24 * 8
	// DefaultDecisionMDE is the relative effect the decision plans for when
	// the observed lift of the primary metric is not positive.
	DefaultDecisionMDE = 0.05
	// DecisionPower is the power of the "days still needed" estimate.
	DecisionPower = 0.8
	// MaxDecisionDays is the horizon beyond which an underpowered
	// experiment is called hopeless rather than worth running on.
	MaxDecisionDays = 365
	// RevenueSuffix names the revenue-per-customer metric of a conversion
	// metric: purchase → purchase_revenue.
	RevenueSuffix = "_revenue"
)

// Report is the analysis of one experiment: per-variant counts, the full
// stats.Analyze result over the experiment's sufficient statistics, ROI,
// breakdowns by dimension, a daily series of the primary lift, and a
// decision. Money is in minor units of Currency.
type Report struct {
	Experiment       *Experiment
	GeneratedAt      time.Time
	MultipleExposure MultipleExposure
	// Currency is the currency of the report's money: the one currency of
	// its attributed conversions, else (none carries one) the currency of
	// the experiment's promotions; "" when the conversions carry several.
	Currency string
	// Currencies are the currencies the attributed conversions carry,
	// sorted. With more than one, money is never added across them: the
	// revenue metrics, ROI, net revenue and the variants' money are left
	// out (zero), a warning says so, and CurrencyTotals has the money per
	// variant, conversion name and currency.
	Currencies     []string
	CurrencyTotals []CurrencySums
	// Variants are the per-variant counts, in the experiment's order.
	Variants []VariantSummary
	// Analysis is stats.Analyze(AnalyzeInput()) exactly.
	Analysis stats.AnalyzeOutput
	// Treatment is the non-control variant the headline and the decision
	// are about.
	Treatment string
	// NetIncrementalRevenue is the ROI variant's incremental revenue minus
	// its promotion cost, with its CI; nil without a revenue metric.
	NetIncrementalRevenue *Interval
	// MultipleExposed counts units exposed to more than one variant
	// (excluded unless MultipleExposure is MultipleFirst).
	MultipleExposed int64
	Breakdowns      []Breakdown
	// ChannelCredit are the attributed conversions credited to channels
	// (ChannelStore): each to its own channel, else its unit's exposure
	// channel. Descriptive: the channel breakdown of Breakdowns slices units
	// by their exposure channel instead. Revenue is 0 when the conversions
	// carry several currencies. Nil when the store cannot tell.
	ChannelCredit []ChannelCredit
	// HourChannel is the breakdown by DimensionHourChannel (slices
	// "09/email"), the send-time grid; nil with NoBreakdowns.
	HourChannel *Breakdown
	Series      []SeriesPoint
	Cohorts     CohortTable
	// Spend is each variant's promotion spend against its budget, and
	// CappedUnits the units a frequency cap kept from a promotion; both
	// are nil when the store is not a CustomerStore.
	Spend       []VariantBudget
	CappedUnits *int64
	// ArmROI is, for a personalization experiment, each non-control
	// arm's ROI against control on the revenue metric (the engine's
	// per-comparison ROI); PersonalizationValue is the incremental revenue
	// of the personalization policy over the best single promotion. Both
	// are nil otherwise.
	ArmROI               []stats.ROIOutput
	PersonalizationValue *PersonalizationValue
	Decision             Decision
	// OrderValues are the median and p90 order value of the primary
	// metric per variant (OrderValueQuantiles), and OrderValueAnalysis
	// their quantile metrics analysed by stats.Analyze, a family of its own
	// (orderquantiles.go); nil when the store cannot tell (OrderValueStore).
	OrderValues        []OrderValueQuantile
	OrderValueAnalysis *stats.AnalyzeOutput
	// Bandit is the bandit section (bandit.go); nil unless the experiment
	// runs as a bandit.
	Bandit *BanditReport
	// Warnings are data-quality notes for people.
	Warnings []string

	input           stats.AnalyzeInput
	orderValueInput *stats.AnalyzeInput
	// money are the stats metrics whose values are money (revenue per unit).
	money map[string]bool
}

// MetricCurrency is the currency of the values of the stats metric key:
// the report's Currency for a revenue metric, "" for counts and rates.
func (r *Report) MetricCurrency(key string) string {
	if r.money[key] {
		return r.Currency
	}
	return ""
}

// AnalyzeInput returns the exact stats input of the report's Analysis:
// `promolift analyze` on it prints the same numbers.
func (r *Report) AnalyzeInput() stats.AnalyzeInput { return r.input }

// VariantBudget is one variant's promotion spend (CustomerStore.
// VariantSpend) against its Promotion.Budget, in minor units. Budget 0 is
// no budget; Exhausted is Spent >= Budget for a positive Budget.
type VariantBudget struct {
	Variant   string
	Spent     int64
	Budget    int64
	Exhausted bool
}

// PersonalizationValue is the incremental revenue of the personalization
// policy over giving everyone the best single (generic) promotion:
// (RPU of Personalized − RPU of BestGeneric) × Units, where RPU is the mean
// of the revenue metric Metric per unit, BestGeneric the arm bestGeneric
// chose (the arm the personalization lift compares with too), Units the
// personalized arm's units. Difference is the Welch difference of the two
// arms' RPU (stats.WelchTest) and Value is Difference × Units, CI
// included. Error is the Welch test's error, if any.
type PersonalizationValue struct {
	Personalized          string
	BestGeneric           string
	Metric                string
	RevenuePerUnit        float64
	GenericRevenuePerUnit float64
	Units                 float64
	Difference            Interval
	Value                 Interval
	Error                 string
}

// Interval is an estimate with its confidence interval.
type Interval struct {
	Estimate float64
	CI       [2]float64
}

// VariantSummary are one variant's plain counts over the analysed units.
// Conversions, revenue and redemptions are of the primary metric.
type VariantSummary struct {
	Key           string
	Weight        float64
	PromotionType PromotionType
	Units         int64
	Exposures     int64
	// Converted counts units with at least one primary conversion;
	// Conversions counts the conversion events.
	Converted      int64
	Conversions    float64
	ConversionRate float64 // Converted / Units
	Revenue        float64
	// RevenuePerCustomer is Revenue / Units; AverageOrderValue is
	// Revenue / Conversions.
	RevenuePerCustomer float64
	AverageOrderValue  float64
	// PromotionCost is the variant's total cost (see promotionCost).
	PromotionCost float64
	// Redemptions are the primary conversions of a variant with a
	// promotion (0 for a variant whose promotion type is none).
	Redemptions     float64
	MultipleExposed int64
}

// Breakdown is the analysis of one dimension, slice by slice.
type Breakdown struct {
	Dimension string
	Slices    []SliceReport
	// Truncated counts the slices left out beyond MaxSlices.
	Truncated int
}

// SliceReport is the analysis of the units of one slice of a dimension.
// Analysis is stats.Analyze on Input; Comparisons add the p-values
// corrected for the number of slices.
type SliceReport struct {
	Slice       string
	Units       int64
	Variants    []VariantSummary
	Input       stats.AnalyzeInput
	Analysis    stats.AnalyzeOutput
	Comparisons []SliceComparison
}

// SliceComparison is one metric × non-control variant of a slice.
// Absolute is the difference with its CI and PValue the p-value of the
// engine's test of it (the decision test, see Decide) in the slice's own
// analysis; AdjustedPValue is Holm's correction of PValue across the slices
// of the dimension (per metric and variant), and Significant is
// AdjustedPValue < alpha. Relative is the relative lift with the engine's
// interval of it (RelativeLift) and RelativePValue the p-value that belongs
// to that interval (nil when the engine has none).
type SliceComparison struct {
	Metric         string
	Variant        string
	Relative       *Interval
	RelativePValue *float64
	Absolute       Interval
	PValue         float64
	AdjustedPValue float64
	Significant    bool
	Error          string
}

// SeriesPoint is the cumulative analysis of the primary metric at the end
// of one day (UTC).
type SeriesPoint struct {
	Date  time.Time // the day (midnight UTC)
	Until time.Time // the data counted are before this instant
	Units int64
	Lifts []SeriesLift
}

// SeriesLift is the cumulative relative lift of the primary metric of one
// variant over control, with its CI (the engine's CI: the always-valid
// relative CI for the sequential engine).
type SeriesLift struct {
	Variant  string
	Estimate float64
	CI       [2]float64
	PValue   float64
	Valid    bool
	Error    string
}

// CohortTable is the repurchase rate by week after first exposure. Stores
// that implement CohortStore fill it; others leave Available false.
type CohortTable struct {
	Available bool
	Note      string
	Rows      []CohortRow
}

// CohortRow is one variant's repurchase rate in one week after first
// exposure: Repurchasers / Units, where Units are the analysed units whose
// week is over and Repurchasers those of them with a repurchase in it (a
// conversion of the metric that is not the unit's first since its first
// exposure). See the stores' CohortStats for the exact definition.
type CohortRow struct {
	Variant      string
	Week         int // 1 = the 7 days from the first exposure, 2 = the next 7, ...
	Units        int64
	Repurchasers int64
	Rate         float64
}

// CohortStore is an optional store capability: repurchase cohorts of an
// experiment's analysed units by week after each unit's first exposure,
// for the conversion name metric, as of q.Until (else q.AsOf, else now): week k
// counts the units exposed at least k weeks before it. Both stores (sqlite,
// postgres) implement it; with another store the report degrades to an
// unavailable cohort table.
type CohortStore interface {
	CohortStats(ctx context.Context, q StatsQuery, metric string, weeks int) ([]CohortRow, error)
}

// The decision actions.
const (
	DecisionShip        = "ship"
	DecisionKeepRunning = "keep_running"
	DecisionStop        = "stop"
)

// Decision is the report's plain-language recommendation. Code is stable
// for programs: srm, guardrail_hurt, ship, roi_below_target,
// primary_negative, no_effect, underpowered, too_small_to_detect,
// no_data, analysis_error.
type Decision struct {
	Action  string
	Code    string
	Reason  string
	Details []string
	// Variant is the treatment the decision is about.
	Variant string
	// DaysNeeded is, when underpowered, the days still needed at the
	// current daily unit rate (0 otherwise).
	DaysNeeded int
}

// Report analyses experiment key.
func (s *Service) Report(ctx context.Context, key string, opts ReportOptions) (*Report, error) {
	if opts.MultipleExposure == "" {
		opts.MultipleExposure = MultipleExclude
	}
	if opts.MultipleExposure != MultipleExclude && opts.MultipleExposure != MultipleFirst {
		return nil, Invalid("multiple_exposure", "invalid", "must be exclude or first")
	}
	exp, err := s.store.GetExperiment(ctx, key)
	if err != nil {
		return nil, err
	}
	// Every exposure acknowledged before now is in the events.
	if err := s.FoldExposureJournal(ctx); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	// The overall analysis applies CUPED to the revenue metrics, so it asks
	// for the pre-period sums (a read of raw events); the breakdowns and the
	// daily series are unadjusted and stay on the rollups.
	q := StatsQuery{Experiment: key, MultipleExposure: opts.MultipleExposure}
	// The breakdowns' statistics are read while the overall query runs
	// (reportfetch.go); whatever is still running when Report returns
	// early is cancelled.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := newFetcher(ctx)
	var dims map[string]func() (*SufficientStats, error)
	if !opts.NoBreakdowns {
		dims = map[string]func() (*SufficientStats, error){}
		for _, d := range append(breakdownDimensions(exp), DimensionHourChannel) {
			dq := q
			dq.Dimension = d
			dims[d] = fetch(f, func(ctx context.Context) (*SufficientStats, error) { return s.store.SufficientStats(ctx, dq) })
		}
	}
	// The RFM segment at first exposure post-stratifies the analysis.
	rfm := dims[AttrRFMSegment]
	if rfm == nil {
		rq := q
		rq.Dimension = AttrRFMSegment
		rfm = fetch(f, func(ctx context.Context) (*SufficientStats, error) { return s.store.SufficientStats(ctx, rq) })
	}
	overall := q
	overall.PrePeriod = true
	ss, err := s.store.SufficientStats(ctx, overall)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", key, err)
	}
	rb := newReportBuilder(exp, ss)
	cur := currenciesOf(ss.Currencies)
	cohorts := fetch(f, func(ctx context.Context) (CohortTable, error) { return s.cohorts(ctx, exp, q, rb.primary, now), nil })
	var channels func() ([]ChannelCredit, error)
	if cs, ok := s.store.(ChannelStore); ok && !opts.NoBreakdowns {
		channels = fetch(f, func(ctx context.Context) ([]ChannelCredit, error) { return cs.ChannelCredit(ctx, q) })
	}
	r := &Report{Experiment: exp, GeneratedAt: now, MultipleExposure: opts.MultipleExposure,
		Currency: cur.currency(exp), Currencies: cur.codes, Warnings: []string{}}
	if cur.mixed() {
		r.CurrencyTotals = cur.totals
		r.Warnings = append(r.Warnings, fmt.Sprintf("the conversions carry several currencies (%s): money is not added across "+
			"currencies, so revenue, promotion cost, ROI and net revenue are left out; currency_totals has them per currency",
			strings.Join(cur.codes, ", ")))
	}
	r.input = rb.input(ss, "")
	days := elapsedDays(exp, now)
	r.input.Power = &stats.PowerInput{MDERelative: exp.plannedMDE(), ElapsedDays: &days}
	rs, err := rfm()
	if err != nil {
		return nil, fmt.Errorf("report %s: strata by %s: %w", key, AttrRFMSegment, err)
	}
	r.input = postStratified(r.input, rb, rs)
	r.money = map[string]bool{}
	for _, m := range rb.metrics {
		r.money[m.key] = m.revenue
	}
	if err := s.orderValueQuantiles(ctx, r, rb, q); err != nil {
		return nil, fmt.Errorf("report %s: %w", key, err)
	}
	if r.Analysis, err = analyze(r.input); err != nil {
		return nil, fmt.Errorf("report %s: %w", key, err)
	}
	r.Variants = rb.variants(ss, "")
	for _, v := range r.Variants {
		r.MultipleExposed += v.MultipleExposed
	}
	r.Treatment = treatment(&r.Analysis, exp.PrimaryMetric)
	r.NetIncrementalRevenue = netIncrementalRevenue(&r.Analysis)
	if r.MultipleExposed > 0 {
		verb := "excluded from"
		if opts.MultipleExposure == MultipleFirst {
			verb = "counted in the variant of their first exposure in"
		}
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d units were exposed to more than one variant and are %s the analysis", r.MultipleExposed, verb))
	}
	if exp.Allocation.Bandit() {
		if r.Bandit, err = s.banditReport(ctx, exp, now); err != nil {
			return nil, fmt.Errorf("report %s: bandit: %w", key, err)
		}
		r.Warnings = append(r.Warnings, "this experiment is a bandit: its weights change every period, so the pooled "+
			"figures and the sample-ratio check are not valid; read the effects from the bandit section (per-period weighting)")
	}
	if r.Analysis.SRM.Flagged && !exp.Allocation.Bandit() {
		r.Warnings = append(r.Warnings, fmt.Sprintf("sample ratio mismatch: the traffic split differs from the design (chi² = %.2f, p = %.2g)", r.Analysis.SRM.Chi2, r.Analysis.SRM.PValue))
	}
	for _, w := range r.Analysis.SRM.Warnings {
		if exp.Allocation.Bandit() {
			break // the split moves by design
		}
		r.Warnings = append(r.Warnings, "srm: "+w)
	}
	if exp.PrimaryMetric == "" {
		r.Warnings = append(r.Warnings, "the experiment has no primary metric; the first conversion metric seen is analysed as primary")
	}
	if !opts.NoBreakdowns {
		if err := breakdowns(r, rb, q, dims); err != nil {
			return nil, err
		}
	}
	if !opts.NoSeries {
		if err := s.series(f, r, rb, q, now); err != nil {
			return nil, err
		}
	}
	r.Cohorts, _ = cohorts() // failures are a note in the table
	if channels != nil {
		var err error
		if r.ChannelCredit, err = channels(); err != nil && ctx.Err() == nil {
			s.log.Warn("channel credit", "experiment", key, "err", err)
			r.Warnings = append(r.Warnings, "the conversions-by-channel query failed; see the server log")
		}
		if rb.noMoney {
			for i := range r.ChannelCredit {
				r.ChannelCredit[i].Revenue = 0
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("report %s: %w", key, err)
	}
	if exp.Personalization {
		r.ArmROI = armROI(&r.Analysis, rb.primary+RevenueSuffix)
		if pi := r.input.Personalization; pi != nil {
			r.PersonalizationValue = personalizationValue(exp, &r.Analysis, rb.primary+RevenueSuffix, pi.Personalized, pi.Generic)
		}
	}
	s.rights(ctx, r)
	guard := &r.Analysis
	if r.input.Alternative != "" && r.input.Alternative != stats.AltTwoSided {
		// Guardrails keep the two-sided test: a one-sided alternative
		// must not hide harm in the direction it does not test.
		two := r.input
		two.Alternative, two.Power = stats.AltTwoSided, nil
		out, err := analyze(two)
		if err != nil {
			return nil, fmt.Errorf("report %s: two-sided guardrails: %w", key, err)
		}
		guard = &out
	}
	r.Decision = decide(exp, &r.Analysis, guard, days, r.Currency)
	return r, nil
}

// postStratified returns in with every metric without CUPED given by
// strata, the RFM segments at first exposure (the slices of rs), when that
// lowers the variance: for each such metric, the post-stratified standard
// error of every comparison must be below the unstratified one. Metrics
// whose strata would not help keep their statistics.
func postStratified(in stats.AnalyzeInput, rb *reportBuilder, rs *SufficientStats) stats.AnalyzeInput {
	slices := map[string]bool{}
	for _, v := range rs.Variants {
		slices[v.Slice] = true
	}
	if len(slices) < 2 {
		return in
	}
	cand := in
	cand.Metrics = append([]stats.MetricInput(nil), in.Metrics...)
	stratified := map[int]bool{}
	for i, m := range cand.Metrics {
		cuped := false
		for _, a := range m.Stats {
			cuped = cuped || a.PreSum != nil
		}
		if cuped {
			continue
		}
		strata := map[string]map[string]stats.ArmStats{}
		for sl := range slices {
			st := rb.input(rs, sl).Metrics[i].Stats
			vc, _ := sliceOf(rs, sl)
			for k, a := range st {
				u := float64(vc[k].Units)
				a.Units = &u
				st[k] = a
			}
			strata[sl] = st
		}
		m.Stats, m.Strata = nil, strata
		cand.Metrics[i] = m
		stratified[i] = true
	}
	out, err := analyze(cand)
	if err != nil {
		return in
	}
	for i := range stratified {
		better := len(out.Metrics[i].Comparisons) > 0
		for _, c := range out.Metrics[i].Comparisons {
			better = better && c.PostStratification != nil && c.PostStratification.VarianceReduction > 0
		}
		if !better {
			cand.Metrics[i] = in.Metrics[i]
		}
	}
	return cand
}

// netIncrementalRevenue is the ROI variant's incremental revenue minus its
// promotion cost, with its CI (the incremental revenue's CI shifted by the
// cost); nil without an ROI or when the revenue difference could not be
// estimated (an arm without units): stats then leaves the incremental
// revenue and its CI at 0, and 0 − cost is no estimate.
func netIncrementalRevenue(out *stats.AnalyzeOutput) *Interval {
	roi := out.ROI
	if roi == nil || !ROIEstimated(out, roi) {
		return nil
	}
	return &Interval{Estimate: roi.Net, CI: [2]float64{roi.IncrementalCI[0] - roi.Cost, roi.IncrementalCI[1] - roi.Cost}}
}

// ROIEstimated reports whether roi (of out) has an estimate of the
// incremental revenue: the absolute difference of its revenue metric was
// computed. Without one, its IncrementalRevenue, IncrementalCI and Net are
// zeros that stand for nothing and must not be shown.
func ROIEstimated(out *stats.AnalyzeOutput, roi *stats.ROIOutput) bool {
	c := findComparison(findMetric(out, roi.Metric), roi.Variant)
	return c != nil && c.Absolute.Method != "none" && c.Absolute.Method != ""
}

// analyze is the one call into package stats.
func analyze(in stats.AnalyzeInput) (stats.AnalyzeOutput, error) {
	return stats.Analyze(in)
}

// reportCurrencies are the currencies of a report's conversions.
type reportCurrencies struct {
	codes   []string // sorted, without "" and MixedCurrency
	several bool     // some unit paid in several currencies
	totals  []CurrencySums
}

func currenciesOf(cs []CurrencySums) reportCurrencies {
	var rc reportCurrencies
	seen := map[string]bool{}
	for _, c := range cs {
		switch c.Currency {
		case "":
		case MixedCurrency:
			rc.several = true
		default:
			if !seen[c.Currency] {
				seen[c.Currency] = true
				rc.codes = append(rc.codes, c.Currency)
			}
		}
	}
	sort.Strings(rc.codes)
	rc.totals = cs
	return rc
}

// mixed reports whether money in more than one currency was seen.
func (rc reportCurrencies) mixed() bool { return len(rc.codes) > 1 || rc.several }

// currency is the report's Currency.
func (rc reportCurrencies) currency(e *Experiment) string {
	switch {
	case rc.mixed():
		return ""
	case len(rc.codes) == 1:
		return rc.codes[0]
	}
	return e.currency()
}

func (e *Experiment) currency() string {
	for _, v := range e.Variants {
		if v.Promotion.Currency != "" {
			return v.Promotion.Currency
		}
	}
	return ""
}

// elapsedDays is the experiment's running time in days up to now (or its
// end), at least 0.
func elapsedDays(e *Experiment, now time.Time) float64 {
	if e.StartedAt.IsZero() {
		return 0
	}
	end := now
	if !e.EndedAt.IsZero() && e.EndedAt.Before(end) {
		end = e.EndedAt
	}
	d := end.Sub(e.StartedAt).Hours() / 24
	return math.Max(d, 0)
}

// metricSpec is one metric of the stats input.
type metricSpec struct {
	key     string // the stats metric key
	name    string // the conversion name
	typ     string // proportion or mean
	role    string
	revenue bool
}

// reportBuilder turns sufficient statistics into stats inputs with one
// metric list for the whole report (overall, slices and series).
type reportBuilder struct {
	exp     *Experiment
	primary string
	metrics []metricSpec
	// personalized and generic are the personalized arm and the best
	// generic promotion (bestGeneric) of a personalization experiment.
	personalized, generic string
	// noMoney leaves revenue and cost out: the conversions carry several
	// currencies.
	noMoney bool
}

func newReportBuilder(exp *Experiment, ss *SufficientStats) *reportBuilder {
	rb := &reportBuilder{exp: exp, primary: exp.PrimaryMetric, noMoney: currenciesOf(ss.Currencies).mixed()}
	seenNames := map[string]bool{}
	revenue := map[string]bool{}
	for _, m := range ss.Metrics {
		seenNames[m.Metric] = true
		if m.Revenue != 0 {
			revenue[m.Metric] = true
		}
	}
	if rb.primary == "" {
		names := make([]string, 0, len(seenNames))
		for n := range seenNames {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) > 0 {
			rb.primary = names[0]
		} else {
			rb.primary = "conversion"
		}
	}
	used := map[string]bool{}
	add := func(name, role string, alwaysRevenue bool) {
		if used[name] {
			return
		}
		used[name] = true
		rb.metrics = append(rb.metrics, metricSpec{key: name, name: name, typ: "proportion", role: role})
		if !rb.noMoney && (alwaysRevenue || revenue[name]) {
			revRole := role
			if role == "primary" {
				revRole = "secondary"
			}
			rb.metrics = append(rb.metrics, metricSpec{key: name + RevenueSuffix, name: name, typ: "mean", role: revRole, revenue: true})
		}
	}
	add(rb.primary, "primary", true)
	if rb.personalized = personalizedArm(exp); rb.personalized != "" {
		rb.generic = bestGeneric(exp, ss, rb.primary, rb.personalized)
	}
	for _, m := range exp.SecondaryMetrics {
		add(m, "secondary", false)
	}
	for _, m := range exp.GuardrailMetrics {
		add(m, "guardrail", false)
	}
	return rb
}

// counts returns the VariantCounts and MetricSums of one slice by variant.
func sliceOf(ss *SufficientStats, slice string) (map[string]VariantCounts, map[string]map[string]MetricSums) {
	vc := map[string]VariantCounts{}
	for _, v := range ss.Variants {
		if v.Slice != slice {
			continue
		}
		c := vc[v.Variant]
		c.Slice, c.Variant = slice, v.Variant
		c.Units += v.Units
		c.Exposures += v.Exposures
		c.MultipleExposed += v.MultipleExposed
		vc[v.Variant] = c
	}
	ms := map[string]map[string]MetricSums{}
	for _, m := range ss.Metrics {
		if m.Slice != slice {
			continue
		}
		if ms[m.Variant] == nil {
			ms[m.Variant] = map[string]MetricSums{}
		}
		ms[m.Variant][m.Metric] = m
	}
	return vc, ms
}

// promotionCost is a variant's total promotion cost: the recorded cost of
// its attributed conversions (per redemption), UnitCost × exposures (per
// exposure), or UnitCost (fixed).
func promotionCost(v Variant, c VariantCounts, ms map[string]MetricSums) float64 {
	switch v.Promotion.CostRule {
	case CostPerExposure:
		return float64(v.Promotion.UnitCost) * float64(c.Exposures)
	case CostFixed:
		return float64(v.Promotion.UnitCost)
	}
	var sum float64
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names) // a fixed order keeps the float sum reproducible
	for _, n := range names {
		sum += ms[n].Cost
	}
	return sum
}

// input builds the stats input of one slice ("" for all units).
func (rb *reportBuilder) input(ss *SufficientStats, slice string) stats.AnalyzeInput {
	exp := rb.exp
	vc, ms := sliceOf(ss, slice)
	in := stats.AnalyzeInput{Engine: exp.Engine, SequentialTuning: float64(exp.SequentialTuning),
		Correction: "holm", Control: exp.Variants[0].Key, Alternative: exp.Alternative}
	for _, v := range exp.Variants {
		c := vc[v.Key]
		vi := stats.VariantInput{Key: v.Key, Weight: v.Weight, Units: float64(c.Units)}
		if !rb.noMoney {
			vi.PromotionCost = promotionCost(v, c, ms[v.Key])
		}
		in.Variants = append(in.Variants, vi)
	}
	for _, m := range rb.metrics {
		mi := stats.MetricInput{Key: m.key, Type: m.typ, Role: m.role, Stats: map[string]stats.ArmStats{},
			LowerIsBetter: exp.lowerIsBetter(m.name) || exp.lowerIsBetter(m.key)}
		// CUPED: the pre-period sums go in when any arm has pre-period
		// revenue (all arms or none, as stats requires).
		cuped := false
		for _, v := range exp.Variants {
			if s := ms[v.Key][m.name]; m.revenue && (s.PreSum != 0 || s.PreSumSquares != 0) {
				cuped = true
			}
		}
		for _, v := range exp.Variants {
			s := ms[v.Key][m.name]
			if m.revenue {
				sq := s.RevenueSquares
				a := stats.ArmStats{Sum: s.Revenue, SumSquares: &sq}
				if cuped {
					px, pxx, pxy := s.PreSum, s.PreSumSquares, s.PreCrossSum
					a.PreSum, a.PreSumSquares, a.PreCrossSum = &px, &pxx, &pxy
				}
				mi.Stats[v.Key] = a
			} else {
				mi.Stats[v.Key] = stats.ArmStats{Sum: float64(s.Converted)}
			}
		}
		in.Metrics = append(in.Metrics, mi)
	}
	if !rb.noMoney {
		in.ROIMetric = rb.primary + RevenueSuffix
	}
	if rb.personalized != "" {
		in.Personalization = &stats.PersonalizationInput{Personalized: rb.personalized, Generic: rb.generic, Metric: rb.primary}
	}
	return in
}

// personalizedArm is the personalized arm of a personalization
// experiment: the first non-control variant whose key or name starts with
// "personalized" ("" when there is none).
func personalizedArm(exp *Experiment) string {
	if !exp.Personalization {
		return ""
	}
	for _, v := range exp.Variants[1:] {
		if strings.HasPrefix(strings.ToLower(v.Key), "personalized") || strings.HasPrefix(strings.ToLower(v.Name), "personalized") {
			return v.Key
		}
	}
	return ""
}

// bestGeneric is the best single (generic) promotion a personalized arm is
// compared with, chosen once per report from all analysed units (ss) so
// that every line of the report names the same arm: among the non-control
// variants with a promotion other than the personalized one, the highest
// revenue per unit of the primary metric (its attributed revenue / the
// arm's units), ties broken by the higher conversion rate of the primary
// metric, then by the experiment's order. Control when there is no such
// variant.
func bestGeneric(exp *Experiment, ss *SufficientStats, primary, pers string) string {
	vc, ms := sliceOf(ss, "")
	best, bestRPU, bestRate := exp.Variants[0].Key, math.Inf(-1), math.Inf(-1)
	for _, v := range exp.Variants[1:] {
		if v.Key == pers || v.Promotion.Type == PromoNone || v.Promotion.Type == "" {
			continue
		}
		rpu, rate := 0.0, 0.0
		if n := float64(vc[v.Key].Units); n > 0 {
			m := ms[v.Key][primary]
			rpu, rate = m.Revenue/n, float64(m.Converted)/n
		}
		if rpu > bestRPU || rpu == bestRPU && rate > bestRate {
			best, bestRPU, bestRate = v.Key, rpu, rate
		}
	}
	return best
}

// armROI lists the ROI of each non-control arm on metric (the roi_metric
// of the analysis), in the analysis' order.
func armROI(out *stats.AnalyzeOutput, metric string) []stats.ROIOutput {
	m := findMetric(out, metric)
	if m == nil {
		return nil
	}
	rois := []stats.ROIOutput{}
	for _, c := range m.Comparisons {
		if c.ROI != nil {
			rois = append(rois, *c.ROI)
		}
	}
	return rois
}

// personalizationValue computes the PersonalizationValue of arm pers on
// the revenue metric; nil when the metric, the arm or a generic promotion
// arm is missing.
func personalizationValue(exp *Experiment, out *stats.AnalyzeOutput, metric, pers, generic string) *PersonalizationValue {
	m := findMetric(out, metric)
	if m == nil || len(exp.Variants) == 0 {
		return nil
	}
	arms := map[string]stats.ArmOutput{}
	for _, a := range m.Arms {
		arms[a.Variant] = a
	}
	pa, ok := arms[pers]
	if !ok {
		return nil
	}
	b, ok := arms[generic]
	if !ok || generic == exp.Variants[0].Key {
		return nil
	}
	best := &b
	pv := &PersonalizationValue{Personalized: pers, BestGeneric: best.Variant, Metric: metric,
		RevenuePerUnit: pa.Mean, GenericRevenuePerUnit: best.Mean, Units: pa.Units}
	eff, err := stats.WelchTest(stats.Summary{N: best.Units, Mean: best.Mean, Variance: best.Variance},
		stats.Summary{N: pa.Units, Mean: pa.Mean, Variance: pa.Variance}, alphaOf(out))
	if err != nil {
		pv.Error = err.Error()
	}
	pv.Difference = Interval{Estimate: eff.Estimate, CI: eff.CI}
	pv.Value = Interval{Estimate: eff.Estimate * pa.Units, CI: [2]float64{eff.CI[0] * pa.Units, eff.CI[1] * pa.Units}}
	return pv
}

// variants returns the per-variant counts of one slice.
func (rb *reportBuilder) variants(ss *SufficientStats, slice string) []VariantSummary {
	vc, ms := sliceOf(ss, slice)
	out := make([]VariantSummary, 0, len(rb.exp.Variants))
	for _, v := range rb.exp.Variants {
		c := vc[v.Key]
		m := ms[v.Key][rb.primary]
		vs := VariantSummary{Key: v.Key, Weight: v.Weight, PromotionType: v.Promotion.Type, Units: c.Units,
			Exposures: c.Exposures, Converted: m.Converted, Conversions: m.Count, Revenue: m.Revenue,
			PromotionCost: promotionCost(v, c, ms[v.Key]), MultipleExposed: c.MultipleExposed}
		if c.Units > 0 {
			vs.ConversionRate = float64(m.Converted) / float64(c.Units)
			vs.RevenuePerCustomer = m.Revenue / float64(c.Units)
		}
		if m.Count > 0 {
			vs.AverageOrderValue = m.Revenue / m.Count
		}
		if rb.noMoney {
			vs.Revenue, vs.RevenuePerCustomer, vs.AverageOrderValue, vs.PromotionCost = 0, 0, 0, 0
		}
		if v.Promotion.Type != PromoNone && v.Promotion.Type != "" {
			vs.Redemptions = m.Count
		}
		out = append(out, vs)
	}
	return out
}

// treatment picks the variant the headline is about: the non-control
// variant with the largest significant positive primary lift, else the
// ROI variant, else the first non-control variant.
func treatment(out *stats.AnalyzeOutput, primary string) string {
	best, bestLift := "", math.Inf(-1)
	if m := findMetric(out, primary); m != nil {
		for _, c := range m.Comparisons {
			if c.Significant && c.Absolute.Estimate > 0 && c.Absolute.Estimate > bestLift {
				best, bestLift = c.Variant, c.Absolute.Estimate
			}
		}
	}
	if best != "" {
		return best
	}
	if out.ROI != nil {
		return out.ROI.Variant
	}
	for _, v := range out.Variants {
		if v.Key != out.Control {
			return v.Key
		}
	}
	return ""
}

func findMetric(out *stats.AnalyzeOutput, key string) *stats.MetricOutput {
	for i := range out.Metrics {
		if out.Metrics[i].Key == key {
			return &out.Metrics[i]
		}
	}
	return nil
}

func findComparison(m *stats.MetricOutput, variant string) *stats.ComparisonOutput {
	if m == nil {
		return nil
	}
	for i := range m.Comparisons {
		if m.Comparisons[i].Variant == variant {
			return &m.Comparisons[i]
		}
	}
	return nil
}

// usable tells whether a comparison's p-value is valid (no error, or only
// baseline_zero with an absolute result), as stats does for its family.
func usable(c *stats.ComparisonOutput) bool {
	return c.Error == nil || *c.Error == "baseline_zero" && c.Absolute.Method != "none"
}

// RelativeLift is the relative lift of c as reports show it, with the
// engine's interval of it (the always-valid interval for the sequential
// engine, the frequentist one otherwise) and the p-value that belongs to
// that interval: the delta-method test of the relative lift for the
// frequentist and Bayesian engines, the always-valid p-value of the
// relative lift (sequential.relative_p_value) for the sequential engine. The
// decisions use the test of the difference (engineP), never this p-value;
// rows that show a relative interval show the p-value of each, labelled.
// Both are nil without a relative lift, and when its standard error is 0
// (an arm without conversions: the delta method gives the zero-width
// interval [−100%, −100%] with p = 1, which is no interval).
func RelativeLift(c *stats.ComparisonOutput) (*Interval, *float64) {
	if c == nil || c.Relative == nil || !(c.Relative.SE > 0) {
		return nil, nil
	}
	if c.Sequential != nil {
		if c.Sequential.RelativeCI == nil {
			return nil, nil
		}
		return &Interval{Estimate: c.Relative.Estimate, CI: *c.Sequential.RelativeCI}, c.Sequential.RelativePValue
	}
	p := c.Relative.PValue
	return &Interval{Estimate: c.Relative.Estimate, CI: c.Relative.CI}, &p
}

// engineP is the p-value of the engine that produced c: the test of the
// absolute difference (pooled z for proportions, Welch t or CUPED for
// means; the always-valid p-value for the sequential engine). It is the one
// test the decision rules use.
func engineP(c *stats.ComparisonOutput) float64 {
	if c.Sequential != nil {
		return c.Sequential.PValue
	}
	return c.Absolute.PValue
}

func alphaOf(out *stats.AnalyzeOutput) float64 {
	if out.Alpha > 0 {
		return out.Alpha
	}
	return stats.DefaultAlpha
}

// breakdownDimensions are the dimensions a report breaks down by: the
// experiment's segments, channel and hour, each once.
func breakdownDimensions(exp *Experiment) []string {
	dims := []string{}
	seen := map[string]bool{}
	for _, d := range append(append([]string{}, exp.Segments...), DimensionChannel, DimensionHour) {
		if d != "" && !seen[d] {
			seen[d] = true
			dims = append(dims, d)
		}
	}
	return dims
}

// breakdowns analyses every slice of each dimension (the statistics of
// dimension d come from stats[d]) and corrects p-values across slices
// with Holm; the hour × channel grid, when stats holds it, goes to
// r.HourChannel.
func breakdowns(r *Report, rb *reportBuilder, q StatsQuery, stats map[string]func() (*SufficientStats, error)) error {
	for _, d := range breakdownDimensions(r.Experiment) {
		ss, err := stats[d]()
		if err != nil {
			return fmt.Errorf("report %s: breakdown by %s: %w", q.Experiment, d, err)
		}
		b, err := breakdown(r, rb, d, ss, MaxSlices)
		if err != nil {
			return err
		}
		r.Breakdowns = append(r.Breakdowns, b)
	}
	if get := stats[DimensionHourChannel]; get != nil {
		ss, err := get()
		if err != nil {
			return fmt.Errorf("report %s: breakdown by %s: %w", q.Experiment, DimensionHourChannel, err)
		}
		b, err := breakdown(r, rb, DimensionHourChannel, ss, MaxHourChannelSlices)
		if err != nil {
			return err
		}
		r.HourChannel = &b
	}
	return nil
}

// breakdown analyses the largest maxSlices slices of dimension d (in
// slice order) and corrects their p-values with Holm.
func breakdown(r *Report, rb *reportBuilder, d string, ss *SufficientStats, maxSlices int) (Breakdown, error) {
	units := map[string]int64{}
	for _, v := range ss.Variants {
		units[v.Slice] += v.Units
	}
	slices := make([]string, 0, len(units))
	for sl := range units {
		slices = append(slices, sl)
	}
	sort.Slice(slices, func(i, j int) bool {
		a, b := slices[i], slices[j]
		return units[a] > units[b] || units[a] == units[b] && a < b
	})
	b := Breakdown{Dimension: d}
	if len(slices) > maxSlices {
		b.Truncated = len(slices) - maxSlices
		slices = slices[:maxSlices]
	}
	sort.Strings(slices)
	for _, sl := range slices {
		in := rb.input(ss, sl)
		out, err := analyze(in)
		if err != nil {
			return Breakdown{}, fmt.Errorf("report %s: slice %s=%s: %w", r.Experiment.Key, d, sl, err)
		}
		sr := SliceReport{Slice: sl, Units: units[sl], Variants: rb.variants(ss, sl), Input: in, Analysis: out}
		for _, m := range out.Metrics {
			for i := range m.Comparisons {
				c := &m.Comparisons[i]
				sc := SliceComparison{Metric: m.Key, Variant: c.Variant, PValue: math.NaN(),
					Absolute: Interval{Estimate: c.Absolute.Estimate, CI: c.Absolute.CI}}
				sc.Relative, sc.RelativePValue = RelativeLift(c)
				if c.Error != nil {
					sc.Error = *c.Error
				}
				if usable(c) {
					sc.PValue = engineP(c)
				}
				sr.Comparisons = append(sr.Comparisons, sc)
			}
		}
		b.Slices = append(b.Slices, sr)
	}
	holmAcrossSlices(b.Slices, alphaOf(&r.Analysis))
	return b, nil
}

// holmAcrossSlices sets AdjustedPValue and Significant of every slice
// comparison: Holm over the slices, per metric and variant. Comparisons
// without a valid p-value get PValue 1, AdjustedPValue 1.
func holmAcrossSlices(slices []SliceReport, alpha float64) {
	type ref struct{ s, c int }
	groups := map[string][]ref{}
	var order []string
	for si := range slices {
		for ci, c := range slices[si].Comparisons {
			k := c.Metric + "\x00" + c.Variant
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], ref{si, ci})
		}
	}
	for _, k := range order {
		refs := groups[k]
		p := make([]float64, len(refs))
		for i, r := range refs {
			p[i] = slices[r.s].Comparisons[r.c].PValue
		}
		adj := stats.Holm(p)
		for i, r := range refs {
			c := &slices[r.s].Comparisons[r.c]
			if math.IsNaN(c.PValue) {
				c.PValue, c.AdjustedPValue = 1, 1
				continue
			}
			c.AdjustedPValue = adj[i]
			c.Significant = adj[i] < alpha
		}
	}
}

// series computes the cumulative primary lift at the end of each day from
// the start to now (or the end), at most MaxSeriesPoints points.
func (s *Service) series(f *fetcher, r *Report, rb *reportBuilder, q StatsQuery, now time.Time) error {
	exp := r.Experiment
	if exp.StartedAt.IsZero() {
		return nil
	}
	end := now
	if !exp.EndedAt.IsZero() && exp.EndedAt.Before(end) {
		end = exp.EndedAt
	}
	first := exp.StartedAt.UTC().Truncate(24 * time.Hour)
	if end.Before(first) {
		return nil
	}
	days := int(end.Sub(first)/(24*time.Hour)) + 1
	step := (days + MaxSeriesPoints - 1) / MaxSeriesPoints
	type point struct {
		day, until time.Time
		stats      func() (*SufficientStats, error)
	}
	var points []point
	for i := 0; i < days; i += step {
		day := first.AddDate(0, 0, i)
		until := day.AddDate(0, 0, 1)
		if i+step >= days { // the last point: everything up to end
			day = end.Truncate(24 * time.Hour)
			until = end.Add(time.Microsecond)
		}
		points = append(points, point{day: day, until: until})
	}
	if ss, ok := s.store.(SeriesStore); ok {
		// One pass for every point (series.go).
		cuts := make([]time.Time, len(points))
		for i, p := range points {
			cuts[i] = p.until
		}
		all := fetch(f, func(ctx context.Context) ([]*SufficientStats, error) { return ss.SeriesStats(ctx, q, cuts) })
		for i := range points {
			points[i].stats = func() (*SufficientStats, error) {
				st, err := all()
				if err != nil {
					return nil, err
				}
				return st[i], nil
			}
		}
	} else {
		for i, p := range points {
			dq := q
			dq.Until = p.until
			points[i].stats = fetch(f, func(ctx context.Context) (*SufficientStats, error) { return s.store.SufficientStats(ctx, dq) })
		}
	}
	for _, p := range points {
		day, until := p.day, p.until
		ss, err := p.stats()
		if err != nil {
			return fmt.Errorf("report %s: series: %w", q.Experiment, err)
		}
		in := rb.input(ss, "")
		pt := SeriesPoint{Date: day, Until: until}
		for _, v := range in.Variants {
			pt.Units += int64(v.Units)
		}
		out, err := analyze(in)
		if err != nil {
			return fmt.Errorf("report %s: series: %w", q.Experiment, err)
		}
		m := findMetric(&out, rb.primary)
		for _, v := range exp.Variants[1:] {
			l := SeriesLift{Variant: v.Key, PValue: 1}
			if c := findComparison(m, v.Key); c != nil {
				if c.Error != nil {
					l.Error = *c.Error
				}
				if rel, _ := RelativeLift(c); rel != nil {
					l.Valid, l.Estimate, l.CI = true, rel.Estimate, rel.CI
				}
				if usable(c) {
					l.PValue = engineP(c)
				}
			}
			pt.Lifts = append(pt.Lifts, l)
		}
		r.Series = append(r.Series, pt)
	}
	return nil
}

// cohortWeeks is the number of weeks of the cohort table.
const cohortWeeks = 8

// cohorts asks the store for the repurchase cohorts of metric as of now
// when it can, and orders them by the experiment's variants, then week.
func (s *Service) cohorts(ctx context.Context, exp *Experiment, q StatsQuery, metric string, now time.Time) CohortTable {
	cs, ok := s.store.(CohortStore)
	if !ok {
		return CohortTable{Note: "this store cannot compute repurchase cohorts yet: they need per-unit conversion times, which the sufficient statistics do not carry"}
	}
	// As of now, from the rollups (not Until, which would rebuild every
	// unit's first exposure from the raw events).
	q.AsOf = now
	rows, err := cs.CohortStats(ctx, q, metric, cohortWeeks)
	if err != nil {
		s.log.Warn("cohort stats", "experiment", q.Experiment, "err", err)
		return CohortTable{Note: "the cohort query failed; see the server log"}
	}
	for i := range rows {
		if rows[i].Units > 0 {
			rows[i].Rate = float64(rows[i].Repurchasers) / float64(rows[i].Units)
		}
	}
	order := map[string]int{}
	for i, v := range exp.Variants {
		order[v.Key] = i
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if oa, ob := rank(order, a.Variant), rank(order, b.Variant); oa != ob {
			return oa < ob
		}
		return a.Variant < b.Variant || a.Variant == b.Variant && a.Week < b.Week
	})
	note := fmt.Sprintf("share of units with a repeat %s (not their first since exposure) in week k after their first exposure, among units exposed at least k weeks ago", metric)
	return CohortTable{Available: true, Note: note, Rows: rows}
}

// rights fills the report's Spend and CappedUnits when the store is a
// CustomerStore; a failed query leaves them nil with a warning.
func (s *Service) rights(ctx context.Context, r *Report) {
	cs, ok := s.store.(CustomerStore)
	if !ok {
		return
	}
	key := r.Experiment.Key
	spent, err := cs.VariantSpend(ctx, key)
	if err != nil {
		s.log.Warn("variant spend", "experiment", key, "err", err)
		r.Warnings = append(r.Warnings, "the promotion spend query failed; see the server log")
	} else {
		r.Spend = make([]VariantBudget, 0, len(r.Experiment.Variants))
		for _, v := range r.Experiment.Variants {
			b := VariantBudget{Variant: v.Key, Spent: spent[v.Key], Budget: v.Promotion.Budget}
			b.Exhausted = b.Budget > 0 && b.Spent >= b.Budget
			r.Spend = append(r.Spend, b)
		}
	}
	n, err := cs.CappedUnits(ctx, key)
	if err != nil {
		s.log.Warn("capped units", "experiment", key, "err", err)
		r.Warnings = append(r.Warnings, "the frequency-capped units query failed; see the server log")
		return
	}
	r.CappedUnits = &n
}

// rank is the position of variant in order, after all of them when absent.
func rank(order map[string]int, variant string) int {
	if i, ok := order[variant]; ok {
		return i
	}
	return len(order)
}

// Decide turns an analysis into a recommendation. The rules, in order:
//
//  1. no units in some arm → keep_running (no_data);
//  2. sample ratio mismatch → stop and investigate (srm);
//  3. a guardrail significantly worse than control (p < α; worse is
//     lower, or higher for LowerIsBetter names such as refund or the
//     experiment's lower_is_better_metrics) → stop (guardrail_hurt); the
//     report judges guardrails by the two-sided test whatever the
//     experiment's alternative;
//  4. the primary metric significantly better (adjusted p < α) for a
//     variant: ship (ship) when its ROI is at least e.MinROI or has no cost
//     to measure, else stop: do not ship (roi_below_target);
//  5. the primary metric significantly worse for a variant (and none
//     significantly better) → stop (primary_negative);
//  6. otherwise not significant: with the units per arm needed to detect
//     the observed positive lift (or the planned MDE, DefaultDecisionMDE
//     when none) at DecisionPower (one-sided z_{1−α} for a one-sided test)
//     already reached → stop (no_effect); reachable within
//     MaxDecisionDays at the current daily unit rate → keep_running
//     (underpowered) with DaysNeeded; else stop (too_small_to_detect).
//
// elapsedDays is how long the experiment has run, for the daily rate.
func Decide(e *Experiment, out *stats.AnalyzeOutput, elapsedDays float64) Decision {
	return decide(e, out, out, elapsedDays, e.currency())
}

// decide is Decide with the currency of the money in its details and the
// analysis guard whose guardrail comparisons rule 3 judges (the two-sided
// analysis when out is one-sided; out itself otherwise).
func decide(e *Experiment, out, guard *stats.AnalyzeOutput, elapsedDays float64, currency string) Decision {
	primary := e.PrimaryMetric
	if primary == "" && len(out.Metrics) > 0 {
		primary = out.Metrics[0].Key
	}
	pm := findMetric(out, primary)
	tv := treatment(out, primary)
	d := Decision{Variant: tv}
	alpha := alphaOf(out)
	for _, v := range out.Variants {
		if v.Units == 0 {
			d.Action, d.Code = DecisionKeepRunning, "no_data"
			d.Reason = fmt.Sprintf("Keep running: variant %s has no units yet.", v.Key)
			return d
		}
	}
	if out.SRM.Flagged && !e.Allocation.Bandit() { // a bandit's split moves by design
		d.Action, d.Code = DecisionStop, "srm"
		d.Reason = "Stop and investigate: the traffic split does not match the design (sample ratio mismatch), so the results cannot be trusted."
		d.Details = append(d.Details, fmt.Sprintf("SRM chi² = %.2f, p = %.2g (flagged below 0.001). Check assignment, targeting changes, bots and exposure logging.", out.SRM.Chi2, out.SRM.PValue))
		for _, v := range out.Variants {
			d.Details = append(d.Details, fmt.Sprintf("%s: expected %.1f%%, observed %.1f%% of units", v.Key, 100*v.ExpectedShare, 100*v.ObservedShare))
		}
		return d
	}
	for _, m := range guard.Metrics {
		if m.Role != "guardrail" {
			continue
		}
		for i := range m.Comparisons {
			c := &m.Comparisons[i]
			if usable(c) && engineP(c) < alpha && worse(&m, c) {
				d.Action, d.Code, d.Variant = DecisionStop, "guardrail_hurt", c.Variant
				d.Reason = fmt.Sprintf("Stop: variant %s significantly hurts the guardrail metric %s.", c.Variant, m.Key)
				d.Details = append(d.Details, fmt.Sprintf("%s: %s (p = %.2g)", m.Key, liftText(c), engineP(c)))
				return d
			}
		}
	}
	if pm == nil {
		d.Action, d.Code = DecisionKeepRunning, "no_data"
		d.Reason = "Keep running: the primary metric has no data yet."
		return d
	}
	if c := findComparison(pm, tv); c != nil && c.Significant && !worse(pm, c) {
		roi := comparisonROI(out, primary+RevenueSuffix, tv)
		d.Details = append(d.Details, fmt.Sprintf("%s on %s: %s (adjusted p = %.2g)", tv, primary, liftText(c), c.AdjustedPValue))
		switch {
		case roi == nil || roi.ROI == nil:
			d.Action, d.Code = DecisionShip, "ship"
			d.Reason = fmt.Sprintf("Ship %s: it significantly improves %s.", tv, primary)
			d.Details = append(d.Details, "ROI not measured: the variant recorded no promotion cost.")
		case *roi.ROI >= e.MinROI:
			d.Action, d.Code = DecisionShip, "ship"
			d.Reason = fmt.Sprintf("Ship %s: it significantly improves %s and its ROI (%.1f%%) meets the target (%.1f%%).", tv, primary, 100**roi.ROI, 100*e.MinROI)
			d.Details = append(d.Details, roiText(roi, currency))
		default:
			d.Action, d.Code = DecisionStop, "roi_below_target"
			d.Reason = fmt.Sprintf("Do not ship %s: it improves %s, but its ROI (%.1f%%) is below the target (%.1f%%); the promotion costs more than it earns.", tv, primary, 100**roi.ROI, 100*e.MinROI)
			d.Details = append(d.Details, roiText(roi, currency))
		}
		return d
	}
	for i := range pm.Comparisons {
		c := &pm.Comparisons[i]
		if c.Significant && worse(pm, c) {
			d.Action, d.Code, d.Variant = DecisionStop, "primary_negative", c.Variant
			d.Reason = fmt.Sprintf("Stop: variant %s significantly lowers %s.", c.Variant, primary)
			d.Details = append(d.Details, fmt.Sprintf("%s: %s (adjusted p = %.2g)", primary, liftText(c), c.AdjustedPValue))
			return d
		}
	}
	return underpowered(d, e, out, pm, tv, primary, alpha, elapsedDays)
}

// worse reports whether comparison c of metric m moved the metric the
// wrong way: down, or up for a lower-is-better metric (the analysis'
// lower_is_better, or LowerIsBetter of its name for an analysis that did
// not say). A zero estimate is not worse.
func worse(m *stats.MetricOutput, c *stats.ComparisonOutput) bool {
	lower := m.LowerIsBetter || LowerIsBetter(m.Key)
	if lower {
		return c.Absolute.Estimate > 0
	}
	return c.Absolute.Estimate < 0
}

// underpowered finishes a decision when nothing is significant.
func underpowered(d Decision, e *Experiment, out *stats.AnalyzeOutput, pm *stats.MetricOutput, tv, primary string, alpha, elapsedDays float64) Decision {
	c := findComparison(pm, tv)
	var pc, nc, nt float64
	for _, a := range pm.Arms {
		if a.Variant == out.Control {
			pc, nc = a.Mean, a.Units
		}
		if a.Variant == tv {
			nt = a.Units
		}
	}
	if c == nil || c.Error != nil && !usable(c) || !(pc > 0 && pc < 1) {
		d.Action, d.Code = DecisionKeepRunning, "no_data"
		d.Reason = fmt.Sprintf("Keep running: %s has too few conversions to analyse yet.", primary)
		if c != nil && c.Error != nil {
			d.Details = append(d.Details, "analysis: "+*c.Error)
		}
		return d
	}
	d.Details = append(d.Details, fmt.Sprintf("%s on %s: %s (adjusted p = %.2g), not significant", tv, primary, liftText(c), c.AdjustedPValue))
	target := e.plannedMDE()
	if c.Relative != nil && c.Relative.Estimate > 0 {
		target = c.Relative.Estimate
	}
	pt := pc * (1 + target)
	if pt >= 1 {
		pt = (1 + pc) / 2
	}
	sizeAlpha := alpha // two-sided: z_{1−α/2}
	if out.Alternative == stats.AltGreater || out.Alternative == stats.AltLess {
		sizeAlpha = 2 * alpha // one-sided: z_{1−α}
	}
	need, err := stats.SampleSizeProportions(pc, pt, sizeAlpha, DecisionPower)
	have := math.Min(nc, nt)
	if err != nil {
		d.Action, d.Code = DecisionKeepRunning, "underpowered"
		d.Reason = "Keep running: the result is not significant yet."
		return d
	}
	need = math.Ceil(need)
	d.Details = append(d.Details, fmt.Sprintf("detecting a %.1f%% relative lift with %.0f%% power needs %.0f units per variant; the smallest arm has %.0f", 100*target, 100*DecisionPower, need, have))
	if have >= need {
		d.Action, d.Code = DecisionStop, "no_effect"
		d.Reason = fmt.Sprintf("Stop: the experiment has enough units to detect a %.1f%% lift of %s, and found none.", 100*target, primary)
		return d
	}
	// The rate of the smallest arm per day.
	rate := 0.0
	if elapsedDays > 0 {
		rate = have / math.Max(elapsedDays, 1)
	}
	if rate <= 0 {
		d.Action, d.Code = DecisionKeepRunning, "underpowered"
		d.Reason = "Keep running: the result is not significant yet and the daily unit rate is unknown."
		return d
	}
	days := math.Ceil((need - have) / rate)
	if days > MaxDecisionDays {
		d.Action, d.Code = DecisionStop, "too_small_to_detect"
		d.Reason = fmt.Sprintf("Stop: detecting a %.1f%% lift of %s would take about %.0f more days at the current traffic.", 100*target, primary, days)
		return d
	}
	d.Action, d.Code, d.DaysNeeded = DecisionKeepRunning, "underpowered", int(days)
	d.Reason = fmt.Sprintf("Keep running: not significant yet; about %d more days are needed at the current %.0f units per variant per day.", int(days), rate)
	return d
}

// plannedMDE is the relative effect the experiment plans for: PlannedMDE,
// or DefaultDecisionMDE when it has none.
func (e *Experiment) plannedMDE() float64 {
	if e.PlannedMDE > 0 {
		return e.PlannedMDE
	}
	return DefaultDecisionMDE
}

// lowerIsBetter reports whether a decrease of metric is an improvement:
// the experiment lists it in LowerIsBetterMetrics, or LowerIsBetter
// recognises its name.
func (e *Experiment) lowerIsBetter(metric string) bool {
	for _, m := range e.LowerIsBetterMetrics {
		if m == metric {
			return true
		}
	}
	return LowerIsBetter(metric)
}

// lowerIsBetter are name parts of metrics where an increase is harm.
var lowerIsBetter = []string{"refund", "return", "cancel", "unsubscribe", "churn", "complaint", "chargeback", "opt_out", "optout", "error", "bounce", "uninstall"}

// LowerIsBetter reports whether an increase of metric is harm, judged by
// its name (refund, return, cancel, unsubscribe, churn, complaint,
// chargeback, opt_out, error, bounce, uninstall). Guardrails use it.
func LowerIsBetter(metric string) bool {
	m := strings.ToLower(metric)
	for _, w := range lowerIsBetter {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

func comparisonROI(out *stats.AnalyzeOutput, metric, variant string) *stats.ROIOutput {
	if c := findComparison(findMetric(out, metric), variant); c != nil && c.ROI != nil {
		return c.ROI
	}
	if out.ROI != nil && out.ROI.Variant == variant {
		return out.ROI
	}
	return nil
}

func liftText(c *stats.ComparisonOutput) string {
	if c.Relative != nil {
		return fmt.Sprintf("lift %+.2f%% [%+.2f%%, %+.2f%%]", 100*c.Relative.Estimate, 100*c.Relative.CI[0], 100*c.Relative.CI[1])
	}
	return fmt.Sprintf("difference %+.4g [%+.4g, %+.4g]", c.Absolute.Estimate, c.Absolute.CI[0], c.Absolute.CI[1])
}

func roiText(r *stats.ROIOutput, currency string) string {
	s := fmt.Sprintf("ROI %.1f%%", 100**r.ROI)
	if r.CI != nil {
		s += fmt.Sprintf(" [%.1f%%, %.1f%%]", 100*r.CI[0], 100*r.CI[1])
	}
	return s + fmt.Sprintf("; net incremental revenue %s on a promotion cost of %s", money(r.Net, currency), money(r.Cost, currency))
}

// money formats minor units in the currency's major unit ("12.34 USD"),
// or as plain minor units when the currency is unknown.
func money(v float64, currency string) string {
	d, ok := MinorUnits(currency)
	if !ok {
		return fmt.Sprintf("%.0f (minor units)", v)
	}
	return fmt.Sprintf("%.*f %s", d, v/math.Pow10(d), currency)
}
