package stats

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// DefaultAlpha is the significance level used when none is given.
const DefaultAlpha = 0.05

// prepared is a validated AnalyzeInput with defaults applied.
type prepared struct {
	AnalyzeInput
	alpha   float64
	tuning  float64
	ctrl    int
	index   map[string]int
	prior   Prior
	persIdx int // metric index of the personalization lift, -1 if none
	roiIdx  int // metric index of the ROI, -1 if none
	alt     string
	power   *PowerInput
	target  float64
}

// normalize validates in and applies the defaults. It reports every field
// at fault it can tell apart (ValidationErrors, one per field): the
// top-level settings, every variant, control, every metric (its first
// problem), then the ROI, personalization and prior settings, which are
// checked only when the variants and metrics are valid.
func normalize(in AnalyzeInput) (*prepared, error) {
	p := &prepared{AnalyzeInput: in, alpha: DefaultAlpha, persIdx: -1, roiIdx: -1}
	var errs ValidationErrors
	add := func(err error) { errs = errs.add(err) }
	if in.Alpha != nil {
		a := *in.Alpha
		if !(a > 0 && a < 1) {
			add(verr("alpha", "must be in (0,1), got %v", a))
		} else {
			p.alpha = a
		}
	}
	switch in.Engine {
	case "":
		p.Engine = "frequentist"
	case "frequentist", "bayesian", "sequential":
	default:
		add(verr("engine", "must be frequentist, bayesian or sequential, got %q", in.Engine))
	}
	switch in.Correction {
	case "":
		p.Correction = "holm"
	case "holm", "bh", "none":
	default:
		add(verr("correction", "must be holm, bh or none, got %q", in.Correction))
	}
	switch in.Alternative {
	case "", AltTwoSided:
		p.alt = AltTwoSided
	case AltGreater, AltLess:
		p.alt = in.Alternative
		if p.alpha >= 0.5 {
			add(verr("alternative", "a one-sided test needs alpha < 0.5, got %v", p.alpha))
		}
	default:
		add(verr("alternative", "must be two-sided, greater or less, got %q", in.Alternative))
	}
	if pw := in.Power; pw != nil {
		if err := checkNum("power.mde_relative", pw.MDERelative); err != nil {
			add(err)
		}
		if !(pw.MDERelative > 0) {
			add(verr("power.mde_relative", "must be > 0"))
		}
		p.target = 0.8
		if pw.Target != nil {
			if !(*pw.Target > 0 && *pw.Target < 1) {
				add(verr("power.target_power", "must be in (0,1)"))
			}
			p.target = *pw.Target
		}
		if pw.ElapsedDays != nil {
			if err := checkNum("power.elapsed_days", *pw.ElapsedDays); err != nil {
				add(err)
			}
			if *pw.ElapsedDays < 0 {
				add(verr("power.elapsed_days", "must be >= 0"))
			}
		}
		p.power = pw
	}
	if err := checkNum("sequential_tuning", in.SequentialTuning); err != nil {
		add(err)
	}
	if in.SequentialTuning < 0 {
		add(verr("sequential_tuning", "must be >= 0"))
	}
	p.tuning = in.SequentialTuning
	if p.tuning == 0 {
		p.tuning = DefaultSequentialTuning
	}
	if len(in.Variants) < 2 {
		add(verr("variants", "need at least 2 variants, got %d", len(in.Variants)))
		return nil, errs
	}
	p.index = make(map[string]int, len(in.Variants))
	var wsum float64
	before := len(errs)
	for i, v := range in.Variants {
		f := fmt.Sprintf("variants[%d]", i)
		if v.Key == "" {
			add(verr(f+".key", "must not be empty"))
		}
		if _, dup := p.index[v.Key]; dup {
			add(verr(f+".key", "duplicate variant %q", v.Key))
		}
		p.index[v.Key] = i
		for _, c := range []struct {
			name string
			v    float64
		}{{"weight", v.Weight}, {"promotion_cost", v.PromotionCost}} {
			if err := checkNum(f+"."+c.name, c.v); err != nil {
				add(err)
			}
		}
		if v.Weight < 0 {
			add(verr(f+".weight", "must be >= 0"))
		}
		if err := checkUnits(f+".units", v.Units); err != nil {
			add(err)
		}
		wsum += v.Weight
	}
	if len(errs) > before {
		return nil, errs
	}
	if !(wsum > 0) || math.IsInf(wsum, 0) {
		add(verr("variants", "weights must have a positive finite sum"))
	}
	if in.Control == "" {
		add(verr("control", "missing"))
	}
	ci, ok := p.index[in.Control]
	if !ok {
		add(verr("control", "%q is not among the variants", in.Control))
	}
	p.ctrl = ci
	if len(in.Metrics) == 0 {
		add(verr("metrics", "need at least 1 metric"))
	}
	p.Metrics = make([]MetricInput, len(in.Metrics))
	seen := map[string]int{}
	for i, m := range in.Metrics {
		f := fmt.Sprintf("metrics[%d]", i)
		if m.Key == "" {
			add(verr(f+".key", "must not be empty"))
			continue
		}
		if _, dup := seen[m.Key]; dup {
			add(verr(f+".key", "duplicate metric %q", m.Key))
			continue
		}
		seen[m.Key] = i
		switch m.Type {
		case "proportion", "mean", "ratio", "quantile":
		case "":
			add(verr(f+".type", "missing (proportion, mean, ratio or quantile)"))
			continue
		default:
			add(verr(f+".type", "must be proportion, mean, ratio or quantile, got %q", m.Type))
			continue
		}
		if m.Quantile != nil || m.Type == "quantile" {
			if m.Type != "quantile" {
				add(verr(f+".quantile", "applies to quantile metrics only"))
				continue
			}
			if m.Quantile == nil {
				add(verr(f+".quantile", "missing (the quantile level in (0,1))"))
				continue
			}
			if q := *m.Quantile; !(q > 0 && q < 1) {
				add(verr(f+".quantile", "must be in (0,1), got %v", q))
				continue
			}
		}
		if m.Strata != nil {
			st, err := p.sumStrata(f, m)
			if err != nil {
				add(err)
				continue
			}
			m.Stats = st
		}
		switch m.Role {
		case "":
			m.Role = "secondary"
		case "primary", "secondary", "guardrail":
		default:
			add(verr(f+".role", "must be primary, secondary or guardrail, got %q", m.Role))
			continue
		}
		if err := p.checkMetricStats(f+".stats", m); err != nil {
			add(err)
			continue
		}
		p.Metrics[i] = m
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if in.ROIMetric != "" {
		i, ok := seen[in.ROIMetric]
		if !ok {
			add(verr("roi_metric", "unknown metric %q", in.ROIMetric))
		}
		if p.Metrics[i].Type != "mean" {
			add(verr("roi_metric", "must name a mean metric (revenue per unit), %q is %s", in.ROIMetric, p.Metrics[i].Type))
		}
		p.roiIdx = i
	}
	if in.ROIVariant != "" {
		if _, ok := p.index[in.ROIVariant]; !ok {
			add(verr("roi_variant", "unknown variant %q", in.ROIVariant))
		}
		if in.ROIVariant == in.Control {
			add(verr("roi_variant", "must not be the control"))
		}
	}
	if pi := in.Personalization; pi != nil {
		for _, c := range []struct{ name, key string }{{"personalized", pi.Personalized}, {"generic", pi.Generic}} {
			if c.key == "" {
				add(verr("personalization."+c.name, "missing"))
			}
			if _, ok := p.index[c.key]; !ok {
				add(verr("personalization."+c.name, "unknown variant %q", c.key))
			}
		}
		if pi.Personalized == pi.Generic {
			add(verr("personalization.generic", "must differ from personalized"))
		}
		if pi.Metric != "" {
			i, ok := seen[pi.Metric]
			if !ok {
				add(verr("personalization.metric", "unknown metric %q", pi.Metric))
			}
			p.persIdx = i
		} else {
			p.persIdx = 0
			for i, m := range p.Metrics {
				if m.Role == "primary" {
					p.persIdx = i
					break
				}
			}
		}
	}
	if pr := in.Prior; pr != nil {
		if err := checkNum("prior.mean", pr.Mean); err != nil {
			add(err)
		}
		if err := checkNum("prior.stddev", pr.StdDev); err != nil {
			add(err)
		}
		if pr.StdDev < 0 {
			add(verr("prior.stddev", "must be > 0"))
		}
		sd := pr.StdDev
		if sd == 0 {
			sd = DefaultProperPriorSD
		}
		p.prior = Prior{Proper: pr.Proper, Mean: pr.Mean, SD: sd}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// units returns the unit count of variant v for a metric's stats.
func (p *prepared) units(s ArmStats, v int) float64 {
	if s.Units != nil {
		return *s.Units
	}
	return p.Variants[v].Units
}

// checkMetricStats checks a metric's per-variant statistics m.Stats, found
// at the JSON path sp (e.g. "metrics[0].stats").
func (p *prepared) checkMetricStats(sp string, m MetricInput) error {
	for k := range m.Stats {
		if _, ok := p.index[k]; !ok {
			return verr(sp+"."+k, "unknown variant %q", k)
		}
	}
	pre := -1
	for vi, v := range p.Variants {
		sf := sp + "." + v.Key
		s, ok := m.Stats[v.Key]
		if !ok {
			return verr(sf, "missing statistics for variant %q", v.Key)
		}
		n := p.units(s, vi)
		if s.Units != nil {
			if err := checkUnits(sf+".units", n); err != nil {
				return err
			}
		}
		if err := checkNum(sf+".sum", s.Sum); err != nil {
			return err
		}
		if n == 0 && s.Sum != 0 {
			return verr(sf+".sum", "must be 0 when units is 0")
		}
		switch m.Type {
		case "proportion":
			if s.Sum < 0 {
				return verr(sf+".sum", "must be >= 0 (conversions)")
			}
			if s.Sum > n {
				return verr(sf+".sum", "conversions (%v) exceed units (%v)", s.Sum, n)
			}
		case "quantile":
		case "mean", "ratio":
			if s.SumSquares == nil {
				return verr(sf+".sum_squares", "missing (required for %s metrics)", m.Type)
			}
			if err := checkSquares(sf+".sum_squares", "sum", *s.SumSquares, s.Sum, n); err != nil {
				return err
			}
		}
		if m.Type == "ratio" {
			for _, c := range []struct {
				name string
				v    *float64
			}{{"denominator_sum", s.DenominatorSum}, {"denominator_sum_squares", s.DenominatorSumSquares}, {"cross_sum", s.CrossSum}} {
				if c.v == nil {
					return verr(sf+"."+c.name, "missing (required for ratio metrics)")
				}
				if err := checkNum(sf+"."+c.name, *c.v); err != nil {
					return err
				}
			}
			if n == 0 && *s.DenominatorSum != 0 {
				return verr(sf+".denominator_sum", "must be 0 when units is 0")
			}
			if err := checkSquares(sf+".denominator_sum_squares", "denominator_sum", *s.DenominatorSumSquares, *s.DenominatorSum, n); err != nil {
				return err
			}
			if err := checkCross(sf+".cross_sum", *s.CrossSum, *s.DenominatorSum, *s.DenominatorSumSquares, s.Sum, *s.SumSquares, n); err != nil {
				return err
			}
		}
		if err := checkQuantileArm(sf, m.Type, s, n); err != nil {
			return err
		}
		has, err := checkPre(sf, m.Type, s, n)
		if err != nil {
			return err
		}
		if pre >= 0 && (has > 0) != (pre > 0) {
			return verr(sf+".pre_sum", "pre-period statistics must be given for every variant or none")
		}
		pre = has
	}
	return nil
}

// ratioPreFields are the pre-period fields of a regression-adjusted ratio
// metric beyond pre_sum, pre_sum_squares and pre_cross_sum.
func ratioPreFields(s ArmStats) []namedPtr {
	return []namedPtr{{"pre_denominator_sum", s.PreDenominatorSum}, {"pre_denominator_sum_squares", s.PreDenominatorSumSquares},
		{"d_post_d_pre_sum_of_products", s.DPostDPreSumOfProducts}, {"m_pre_d_pre_sum_of_products", s.MPreDPreSumOfProducts},
		{"m_post_d_pre_sum_of_products", s.MPostDPreSumOfProducts}, {"m_pre_d_post_sum_of_products", s.MPreDPostSumOfProducts}}
}

type namedPtr struct {
	name string
	v    *float64
}

// checkPre validates the CUPED pre-period fields of one arm and returns
// how many were given (0 or all of them).
func checkPre(sf, typ string, s ArmStats, n float64) (int, error) {
	fields := []namedPtr{{"pre_sum", s.PreSum}, {"pre_sum_squares", s.PreSumSquares}, {"pre_cross_sum", s.PreCrossSum}}
	rf := ratioPreFields(s)
	if typ == "ratio" {
		fields = append(fields, rf...)
	}
	has := 0
	var missing []string
	for _, c := range fields {
		if c.v != nil {
			has++
			if err := checkNum(sf+"."+c.name, *c.v); err != nil {
				return 0, err
			}
		} else {
			missing = append(missing, c.name)
		}
	}
	if typ != "ratio" {
		for _, c := range rf {
			if c.v != nil {
				return 0, verr(sf+"."+c.name, "applies to ratio metrics only")
			}
		}
	}
	if has == 0 {
		return 0, nil
	}
	if has != len(fields) {
		return 0, verr(sf, "pre-period statistics must be given together: missing %s", strings.Join(missing, ", "))
	}
	switch typ {
	case "mean", "proportion", "ratio":
	default:
		return 0, verr(sf+".pre_sum", "CUPED pre-period statistics apply to proportion, mean and ratio metrics only")
	}
	if n == 0 && *s.PreSum != 0 {
		return 0, verr(sf+".pre_sum", "must be 0 when units is 0")
	}
	if err := checkSquares(sf+".pre_sum_squares", "pre_sum", *s.PreSumSquares, *s.PreSum, n); err != nil {
		return 0, err
	}
	ySq := s.Sum // a proportion's y is 0/1: Σy² = Σy
	if s.SumSquares != nil {
		ySq = *s.SumSquares
	}
	if err := checkCross(sf+".pre_cross_sum", *s.PreCrossSum, *s.PreSum, *s.PreSumSquares, s.Sum, ySq, n); err != nil {
		return 0, err
	}
	if typ == "ratio" {
		if n == 0 && *s.PreDenominatorSum != 0 {
			return 0, verr(sf+".pre_denominator_sum", "must be 0 when units is 0")
		}
		if err := checkSquares(sf+".pre_denominator_sum_squares", "pre_denominator_sum", *s.PreDenominatorSumSquares, *s.PreDenominatorSum, n); err != nil {
			return 0, err
		}
		e, ee := *s.PreDenominatorSum, *s.PreDenominatorSumSquares
		for _, c := range []struct {
			name        string
			sxy, sx, qx float64
			sy, qy      float64
		}{
			{"d_post_d_pre_sum_of_products", *s.DPostDPreSumOfProducts, *s.DenominatorSum, *s.DenominatorSumSquares, e, ee},
			{"m_pre_d_pre_sum_of_products", *s.MPreDPreSumOfProducts, *s.PreSum, *s.PreSumSquares, e, ee},
			{"m_post_d_pre_sum_of_products", *s.MPostDPreSumOfProducts, s.Sum, ySq, e, ee},
			{"m_pre_d_post_sum_of_products", *s.MPreDPostSumOfProducts, *s.PreSum, *s.PreSumSquares, *s.DenominatorSum, *s.DenominatorSumSquares},
		} {
			if err := checkCross(sf+"."+c.name, c.sxy, c.sx, c.qx, c.sy, c.qy, n); err != nil {
				return 0, err
			}
		}
	}
	return has, nil
}

// checkQuantileArm validates the quantile fields of one arm.
func checkQuantileArm(sf, typ string, s ArmStats, n float64) error {
	fields := []namedPtr{{"quantile_value", s.QuantileValue}, {"quantile_lower", s.QuantileLower}, {"quantile_upper", s.QuantileUpper}}
	for _, c := range fields {
		if c.v == nil {
			if typ == "quantile" && n > 0 {
				return verr(sf+"."+c.name, "missing (required for quantile metrics)")
			}
			continue
		}
		if typ != "quantile" {
			return verr(sf+"."+c.name, "applies to quantile metrics only")
		}
		if err := checkNum(sf+"."+c.name, *c.v); err != nil {
			return err
		}
	}
	if typ != "quantile" || s.QuantileValue == nil || s.QuantileLower == nil || s.QuantileUpper == nil {
		return nil
	}
	if *s.QuantileLower > *s.QuantileValue {
		return verr(sf+".quantile_lower", "must be <= quantile_value")
	}
	if *s.QuantileUpper < *s.QuantileValue {
		return verr(sf+".quantile_upper", "must be >= quantile_value")
	}
	return nil
}

// sumStrata validates a metric's strata and returns the per-variant
// statistics summed over them (units included), the unstratified input.
func (p *prepared) sumStrata(f string, m MetricInput) (map[string]ArmStats, error) {
	if len(m.Stats) > 0 {
		return nil, verr(f+".strata", "give stats or strata, not both")
	}
	if m.Type != "proportion" && m.Type != "mean" {
		return nil, verr(f+".strata", "post-stratification applies to proportion and mean metrics only, not %s", m.Type)
	}
	if len(m.Strata) == 0 {
		return nil, verr(f+".strata", "must hold at least one stratum")
	}
	tot := map[string]ArmStats{}
	for _, name := range sortedKeys(m.Strata) {
		sf := f + ".strata." + name
		if name == "" {
			return nil, verr(sf, "stratum name must not be empty")
		}
		st := m.Strata[name]
		for _, v := range p.Variants {
			a, ok := st[v.Key]
			if !ok {
				continue // reported by checkMetricStats below
			}
			af := sf + "." + v.Key
			if a.Units == nil {
				return nil, verr(af+".units", "missing (required in strata)")
			}
			if a.PreSum != nil || a.PreSumSquares != nil || a.PreCrossSum != nil {
				return nil, verr(af+".pre_sum", "pre-period statistics are not supported with strata")
			}
		}
		sub := MetricInput{Key: m.Key, Type: m.Type, Stats: st}
		if err := p.checkMetricStats(sf, sub); err != nil {
			return nil, err
		}
		for k, a := range st {
			t := tot[k]
			u := *a.Units
			if t.Units != nil {
				u += *t.Units
			}
			t.Units = &u
			t.Sum += a.Sum
			if a.SumSquares != nil {
				q := *a.SumSquares
				if t.SumSquares != nil {
					q += *t.SumSquares
				}
				t.SumSquares = &q
			}
			tot[k] = t
		}
	}
	return tot, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func strp(s string) *string { return &s }

func errp(err error) *string {
	if err == nil {
		return nil
	}
	return strp(err.Error())
}

// dfp returns df as a JSON value: null for normal-based (infinite) df.
func dfp(df float64) *float64 {
	if !finite(df) || df <= 0 {
		return nil
	}
	return &df
}

// armSummary computes one arm's Summary for a metric.
func (p *prepared) armSummary(m MetricInput, vi int) (Summary, error) {
	s := m.Stats[p.Variants[vi].Key]
	n := p.units(s, vi)
	switch m.Type {
	case "proportion":
		return ProportionSummary(n, s.Sum)
	case "ratio":
		return RatioSummary(n, s.Sum, *s.SumSquares, *s.DenominatorSum, *s.DenominatorSumSquares, *s.CrossSum)
	case "quantile":
		if n == 0 {
			return Summary{}, ErrNoUnits
		}
		return QuantileSummary(n, *m.Quantile, *s.QuantileValue, *s.QuantileLower, *s.QuantileUpper)
	default:
		return MeanSummary(n, s.Sum, *s.SumSquares)
	}
}

// cupedArm returns the CUPED statistics of a proportion or mean metric's
// arm, ok false without pre-period statistics.
func (p *prepared) cupedArm(m MetricInput, vi int) (CUPEDArm, bool) {
	s := m.Stats[p.Variants[vi].Key]
	if (m.Type != "mean" && m.Type != "proportion") || s.PreSum == nil {
		return CUPEDArm{}, false
	}
	a := CUPEDArm{N: p.units(s, vi), Sum: s.Sum, SumSquares: s.Sum, Binary: m.Type == "proportion",
		PreSum: *s.PreSum, PreSumSquares: *s.PreSumSquares, CrossSum: *s.PreCrossSum}
	if s.SumSquares != nil && m.Type == "mean" {
		a.SumSquares = *s.SumSquares
	}
	return a, true
}

// ratioCUPEDArm returns the regression-adjusted ratio statistics of a
// ratio metric's arm, ok false without pre-period statistics.
func (p *prepared) ratioCUPEDArm(m MetricInput, vi int) (RatioCUPEDArm, bool) {
	s := m.Stats[p.Variants[vi].Key]
	if m.Type != "ratio" || s.PreSum == nil {
		return RatioCUPEDArm{}, false
	}
	return RatioCUPEDArm{N: p.units(s, vi),
		M: s.Sum, MM: *s.SumSquares, D: *s.DenominatorSum, DD: *s.DenominatorSumSquares, MD: *s.CrossSum,
		X: *s.PreSum, XX: *s.PreSumSquares, E: *s.PreDenominatorSum, EE: *s.PreDenominatorSumSquares,
		MX: *s.PreCrossSum, DE: *s.DPostDPreSumOfProducts, XE: *s.MPreDPreSumOfProducts,
		ME: *s.MPostDPreSumOfProducts, XD: *s.MPreDPostSumOfProducts}, true
}

// Analyze validates in and computes the full report of DESIGN.md §5: per
// metric the arm summaries and, for every non-control variant, the
// absolute and relative lift, the corrected p-value and significance, the
// engine's extras (Bayesian posterior, always-valid CI, CUPED), and at top
// level the SRM test, the ROI and the personalization lift.
//
// Bad input returns a *ValidationError naming the field. Degenerate data
// never fails: the affected comparison carries an error code (no_units,
// insufficient_sample, zero_variance, baseline_zero, nonpositive_cost) and
// warnings (low_sample). The multiple-testing family is every comparison of
// a non-guardrail metric without an error; Holm or BH adjust the engine's
// p-value (absolute.p_value, or sequential.p_value for the sequential
// engine); significant is adjusted_p_value < alpha. A comparison whose
// only error is baseline_zero keeps its valid absolute result and stays in
// the family. Should an extreme input overflow a number (e.g. an interval
// bound at alpha = 1e-300), it is clamped to ±MaxFloat64 and the top-level
// warning "non_finite_clamped" is added: the output never holds NaN or Inf.
func Analyze(in AnalyzeInput) (AnalyzeOutput, error) {
	p, err := normalize(in)
	if err != nil {
		return AnalyzeOutput{}, err
	}
	out := AnalyzeOutput{
		Alpha: p.alpha, Engine: p.Engine, Correction: p.Correction, Control: p.Control,
		Metrics: make([]MetricOutput, len(p.Metrics)), Warnings: []string{}, Alternative: p.alt,
	}
	// Variants and SRM.
	obs := make([]float64, len(p.Variants))
	w := make([]float64, len(p.Variants))
	var nsum, wsum float64
	for i, v := range p.Variants {
		obs[i], w[i] = v.Units, v.Weight
		nsum += v.Units
		wsum += v.Weight
	}
	for _, v := range p.Variants {
		vo := VariantOutput{Key: v.Key, Units: v.Units, Weight: v.Weight, ExpectedShare: v.Weight / wsum, PromotionCost: v.PromotionCost}
		if nsum > 0 {
			vo.ObservedShare = v.Units / nsum
		}
		out.Variants = append(out.Variants, vo)
	}
	srm := SRM(obs, w)
	out.SRM = SRMOutput(srm)
	if out.SRM.Warnings == nil {
		out.SRM.Warnings = []string{}
	}
	if srm.Flagged {
		out.Warnings = append(out.Warnings, "srm")
	}

	type ref struct{ m, c int }
	var family []ref
	var famP []float64
	for mi, m := range p.Metrics {
		mo := MetricOutput{Key: m.Key, Type: m.Type, Role: m.Role, LowerIsBetter: m.LowerIsBetter, Quantile: m.Quantile}
		if m.Strata != nil {
			mo.Strata = sortedKeys(m.Strata)
		}
		sums := make([]Summary, len(p.Variants))
		errs := make([]error, len(p.Variants))
		for vi, v := range p.Variants {
			sums[vi], errs[vi] = p.armSummary(m, vi)
			s := m.Stats[v.Key]
			ao := ArmOutput{Variant: v.Key, Units: p.units(s, vi), Sum: s.Sum, Mean: sums[vi].Mean,
				Variance: sums[vi].Variance, SE: sums[vi].SEMean(), Error: errp(errs[vi])}
			if m.Type == "proportion" {
				r := sums[vi].Mean
				ao.Rate = &r
			}
			mo.Arms = append(mo.Arms, ao)
		}
		for vi := range p.Variants {
			if vi == p.ctrl {
				continue
			}
			c := p.compare(m, sums, errs, vi)
			if mi == p.roiIdx {
				r := p.roi(m, c, vi)
				c.ROI = &r
			}
			mo.Comparisons = append(mo.Comparisons, c)
			if m.Role != "guardrail" && absoluteUsable(c) {
				family = append(family, ref{mi, len(mo.Comparisons) - 1})
				famP = append(famP, c.AdjustedPValue)
			}
		}
		out.Metrics[mi] = mo
	}
	var adj []float64
	switch p.Correction {
	case "holm":
		adj = Holm(famP)
	case "bh":
		adj = BenjaminiHochberg(famP)
	default:
		adj = famP
	}
	for i, r := range family {
		c := &out.Metrics[r.m].Comparisons[r.c]
		c.AdjustedPValue = adj[i]
		c.InFamily = true
	}
	for mi := range out.Metrics {
		for ci := range out.Metrics[mi].Comparisons {
			c := &out.Metrics[mi].Comparisons[ci]
			c.Significant = absoluteUsable(*c) && c.AdjustedPValue < p.alpha
			c.Direction = "none"
			if c.Significant && c.Absolute.Estimate != 0 {
				c.Direction = "better"
				if (c.Absolute.Estimate < 0) != p.Metrics[mi].LowerIsBetter {
					c.Direction = "worse"
				}
			}
		}
	}
	// Top-level ROI.
	if p.roiIdx >= 0 {
		tv := p.ROIVariant
		if tv == "" && p.Personalization != nil && p.Personalization.Personalized != p.Control {
			tv = p.Personalization.Personalized
		}
		if tv == "" {
			for _, v := range p.Variants {
				if v.Key != p.Control {
					tv = v.Key
					break
				}
			}
		}
		for _, c := range out.Metrics[p.roiIdx].Comparisons {
			if c.Variant == tv {
				out.ROI = c.ROI
			}
		}
	}
	if p.persIdx >= 0 {
		out.PersonalizationLift = p.personalization()
	}
	if sanitize(&out) {
		out.Warnings = append(out.Warnings, "non_finite_clamped")
	}
	return out, nil
}

// absoluteUsable tells whether a comparison's absolute result (and so its
// p-value) is valid: no error, or only baseline_zero, which affects the
// relative lift alone.
func absoluteUsable(c ComparisonOutput) bool {
	return c.Error == nil || *c.Error == string(ErrBaselineZero) && c.Absolute.Method != "none"
}

// compare computes one variant-vs-control comparison without correction
// (AdjustedPValue holds the engine's raw p-value).
func (p *prepared) compare(m MetricInput, sums []Summary, errs []error, vi int) ComparisonOutput {
	c := ComparisonOutput{Variant: p.Variants[vi].Key, Warnings: []string{}}
	a, b := sums[p.ctrl], sums[vi]
	c.Absolute.PValue, c.AdjustedPValue = 1, 1
	for _, e := range []error{errs[p.ctrl], errs[vi]} {
		if e != nil && e != ErrBaselineZero {
			c.Error = errp(e)
			c.Absolute.Method = "none"
			return c
		}
	}
	if errs[p.ctrl] != nil || errs[vi] != nil { // ratio with zero denominator
		c.Error = errp(ErrBaselineZero)
		c.Absolute.Method = "none"
		return c
	}
	sa, sb := m.Stats[p.Control], m.Stats[c.Variant]
	low := a.N < LowSampleUnits || b.N < LowSampleUnits
	if m.Type == "proportion" {
		for _, s := range []struct{ x, n float64 }{{sa.Sum, a.N}, {sb.Sum, b.N}} {
			if s.x < LowSampleEvents || s.n-s.x < LowSampleEvents {
				low = true
			}
		}
	}
	if low {
		c.Warnings = append(c.Warnings, WarnLowSample)
	}
	abs, absErr, rel, relErr := p.estimate(m, sums, vi, &c)
	p.fill(&c, abs, absErr, rel, relErr)
	if m.Strata != nil {
		abs, rel = p.postStratify(m, vi, &c, abs, rel)
	}
	if p.alt != AltTwoSided {
		p.oneSided(&c, abs, rel)
	}
	pEngine := c.Absolute.PValue
	switch p.Engine {
	case "bayesian":
		c.Bayesian = p.bayes(m, a, b, sa, sb, abs, rel, c.Relative != nil)
	case "sequential":
		c.Sequential = p.sequential(abs, rel, a.N+b.N, c.Relative != nil)
		pEngine = c.Sequential.PValue
	}
	c.AdjustedPValue = pEngine
	if p.power != nil && absoluteUsable(c) {
		c.Power = p.powerOf(a.Mean, abs.SE, a.N+b.N)
	}
	return c
}

// estimate computes the absolute and relative effect of variant vi by the
// metric's method (z/Welch, CUPED, regression-adjusted ratio) and sets
// c.Absolute.Method, the pooled z p-value and c.CUPED.
func (p *prepared) estimate(m MetricInput, sums []Summary, vi int, c *ComparisonOutput) (abs Effect, absErr error, rel Relative, relErr error) {
	a, b := sums[p.ctrl], sums[vi]
	sa, sb := m.Stats[p.Control], m.Stats[c.Variant]
	df := WelchDF(a, b)
	ca, okA := p.cupedArm(m, p.ctrl)
	cb, okB := p.cupedArm(m, vi)
	ra, okRA := p.ratioCUPEDArm(m, p.ctrl)
	rb, okRB := p.ratioCUPEDArm(m, vi)
	cuped := func(cr CUPEDResult, err error, method string) {
		abs, absErr = cr.Absolute, err
		rel, relErr = cr.Relative, cr.RelativeErr
		c.CUPED = &CUPEDOutput{Theta: cr.Theta, VarianceReduction: cr.VarianceReduction, Applied: cr.Applied}
		c.Absolute.Method = method
	}
	switch {
	case okA && okB && m.Type == "proportion":
		cr, err := CUPED(ca, cb, p.alpha)
		cuped(cr, err, "z_cuped")
	case m.Type == "proportion":
		abs, absErr = ZTest(a, b, p.alpha)
		z, pz, _ := PooledZTest(a.N, sa.Sum, b.N, sb.Sum)
		c.Absolute.PooledZPValue = &pz
		abs.PValue, abs.Stat = pz, z
		c.Absolute.Method = "pooled_z_test+wald_ci"
		rel, relErr = RelativeLift(a, b, p.alpha, df)
	case okA && okB:
		cr, err := CUPED(ca, cb, p.alpha)
		cuped(cr, err, "welch_t_cuped")
	case okRA && okRB:
		cr, err := RatioCUPED(ra, rb, p.alpha)
		cuped(cr, err, "welch_t_ratio_cuped")
	default:
		abs, absErr = WelchTest(a, b, p.alpha)
		c.Absolute.Method = "welch_t"
		rel, relErr = RelativeLift(a, b, p.alpha, df)
	}
	return abs, absErr, rel, relErr
}

// fill writes the absolute and relative results and their errors into c.
func (p *prepared) fill(c *ComparisonOutput, abs Effect, absErr error, rel Relative, relErr error) {
	c.Absolute.Estimate, c.Absolute.SE, c.Absolute.DF = abs.Estimate, abs.SE, dfp(abs.DF)
	c.Absolute.Stat, c.Absolute.CI, c.Absolute.PValue = abs.Stat, abs.CI, abs.PValue
	c.Error = errp(absErr)
	c.Relative = nil
	if relErr != ErrBaselineZero && relErr != ErrNoUnits {
		ro := &RelativeOutput{Estimate: rel.Estimate, SE: rel.SE, DF: dfp(rel.DF), CI: rel.CI, CINormal: rel.CINormal,
			FiellerG: rel.FiellerG, Unreliable: rel.FiellerG >= 1, PValue: rel.PValue}
		if rel.FiellerOK && c.CUPED == nil {
			f := rel.FiellerCI
			ro.CIFieller = &f
		}
		c.Relative = ro
	}
	if c.Error == nil && relErr != nil {
		c.Error = errp(relErr)
	}
}

// postStratify replaces c's absolute and relative results by the
// post-stratified ones (keeping the unstratified in c.Unstratified) and
// returns them; strata with an arm of fewer than 2 units are pooled.
func (p *prepared) postStratify(m MetricInput, vi int, c *ComparisonOutput, abs Effect, rel Relative) (Effect, Relative) {
	un := &UnstratifiedOutput{Absolute: c.Absolute, Relative: c.Relative}
	ck, vk := p.Control, p.Variants[vi].Key
	var strata []Stratum
	var rest [2]ArmStats
	pooled := 0
	arm := func(s ArmStats) (Summary, error) {
		mm := MetricInput{Type: m.Type, Stats: map[string]ArmStats{ck: s}}
		return p.armSummary(mm, p.ctrl)
	}
	add := func(x, y ArmStats) {
		for i, s := range []ArmStats{x, y} {
			t := &rest[i]
			u := *s.Units
			if t.Units != nil {
				u += *t.Units
			}
			t.Units = &u
			t.Sum += s.Sum
			if s.SumSquares != nil {
				q := *s.SumSquares
				if t.SumSquares != nil {
					q += *t.SumSquares
				}
				t.SumSquares = &q
			}
		}
	}
	for _, name := range sortedKeys(m.Strata) {
		x, y := m.Strata[name][ck], m.Strata[name][vk]
		if *x.Units < 2 || *y.Units < 2 {
			add(x, y)
			pooled++
			continue
		}
		sa, _ := arm(x)
		sb, _ := arm(y)
		strata = append(strata, Stratum{A: sa, B: sb})
	}
	if pooled > 0 {
		sa, _ := arm(rest[0])
		sb, _ := arm(rest[1])
		strata = append(strata, Stratum{A: sa, B: sb})
	}
	r, err := PostStratify(strata, p.alpha)
	if err == ErrInsufficientSample || err == ErrNoUnits {
		c.Warnings = append(c.Warnings, "strata_unusable")
		return abs, rel
	}
	saved := c.CUPED
	p.fill(c, r.Absolute, err, r.Relative, r.RelativeErr)
	c.CUPED = saved
	c.Absolute.Method = "post_stratified_z"
	c.Unstratified = un
	ps := &PostStratOutput{Strata: r.Strata, Pooled: pooled}
	if u := un.Absolute.SE; u > 0 {
		ps.VarianceReduction = 1 - r.Absolute.SE*r.Absolute.SE/(u*u)
	}
	c.PostStratification = ps
	return r.Absolute, r.Relative
}

// oneSided turns c's p-values into those of the one-sided alternative and
// adds the one-sided intervals.
func (p *prepared) oneSided(c *ComparisonOutput, abs Effect, rel Relative) {
	if abs.SE > 0 {
		c.Absolute.PValue = OneSidedP(abs.Estimate/abs.SE, abs.DF, p.alt)
		if c.Absolute.PooledZPValue != nil {
			c.Absolute.PValue = OneSidedP(abs.Stat, math.Inf(1), p.alt)
		}
		c.Absolute.CIOneSided = oneSidedCI(OneSidedInterval(abs.Estimate, abs.SE, abs.DF, p.alpha, p.alt))
	}
	if c.Relative != nil && rel.SE > 0 {
		c.Relative.PValue = OneSidedP(rel.Estimate/rel.SE, rel.DF, p.alt)
		c.Relative.CIOneSided = oneSidedCI(OneSidedInterval(rel.Estimate, rel.SE, rel.DF, p.alpha, p.alt))
	}
}

// oneSidedCI puts a one-sided interval on the wire (±Inf as null).
func oneSidedCI(ci [2]float64) *OneSidedCI {
	var o OneSidedCI
	for i, v := range ci {
		if finite(v) {
			x := v
			o[i] = &x
		}
	}
	return &o
}

// bayes computes the Gaussian posteriors of the relative lift and of the
// absolute difference (prior rescaled by |control mean|) and, for
// proportions, the Beta–Binomial result; lower_is_better turns chance to
// win and the risks around.
func (p *prepared) bayes(m MetricInput, a, b Summary, sa, sb ArmStats, abs Effect, rel Relative, hasRel bool) *BayesianOutput {
	bo := &BayesianOutput{ChanceToWin: 0.5}
	flip := func(ctw, rc, rt *float64) {
		if m.LowerIsBetter {
			*ctw, *rc, *rt = 1-*ctw, *rt, *rc
		}
	}
	if !hasRel {
		bo.Error = errp(ErrBaselineZero)
	} else {
		post, err := GaussianBayes(rel.Estimate, rel.SE*rel.SE, p.prior, p.alpha)
		bo.ChanceToWin, bo.RiskControl, bo.RiskTreatment = post.ChanceToWin, post.RiskControl, post.RiskTreatment
		bo.CI, bo.Mean, bo.SD, bo.Error = post.CI, post.Mean, post.SD, errp(err)
		flip(&bo.ChanceToWin, &bo.RiskControl, &bo.RiskTreatment)
	}
	ab := &BayesianScaleOutput{ChanceToWin: 0.5}
	pr := p.prior
	scale := math.Abs(a.Mean)
	if pr.Proper && scale == 0 {
		ab.Error = errp(ErrBaselineZero)
	} else {
		pr.Mean, pr.SD = pr.Mean*scale, pr.SD*scale
		post, err := GaussianBayes(abs.Estimate, abs.SE*abs.SE, pr, p.alpha)
		ab.ChanceToWin, ab.RiskControl, ab.RiskTreatment = post.ChanceToWin, post.RiskControl, post.RiskTreatment
		ab.CI, ab.Mean, ab.SD, ab.Error = post.CI, post.Mean, post.SD, errp(err)
		flip(&ab.ChanceToWin, &ab.RiskControl, &ab.RiskTreatment)
	}
	bo.Absolute = ab
	if m.Type == "proportion" && m.Strata == nil {
		bb, err := BetaBinomial(a.N, sa.Sum, b.N, sb.Sum)
		if err == nil {
			bo.BetaBinomial = &BetaBinomialOutput{ChanceToWin: bb.ChanceToWin, RiskControl: bb.RiskControl, RiskTreatment: bb.RiskTreatment}
			flip(&bo.BetaBinomial.ChanceToWin, &bo.BetaBinomial.RiskControl, &bo.BetaBinomial.RiskTreatment)
		}
	}
	return bo
}

// sequential computes the always-valid results of the absolute and the
// relative effect (two-sided, and one-sided when asked; p_value is the
// alternative's).
func (p *prepared) sequential(abs Effect, rel Relative, n float64, hasRel bool) *SequentialOutput {
	sq, _ := ConfidenceSequence(abs.Estimate, abs.SE, n, p.tuning, p.alpha)
	so := &SequentialOutput{CI: sq.CI, HalfWidth: sq.HalfWidth, PValue: sq.PValue, Tuning: p.tuning}
	one := p.alt != AltTwoSided
	if one {
		s1, _ := ConfidenceSequenceOneSided(abs.Estimate, abs.SE, n, p.tuning, p.alpha, p.alt)
		so.PValue = s1.PValue
		if abs.SE > 0 {
			so.CIOneSided = oneSidedCI(s1.CI)
		}
	}
	if hasRel {
		rs, _ := ConfidenceSequence(rel.Estimate, rel.SE, n, p.tuning, p.alpha)
		r, rp := rs.CI, rs.PValue
		so.RelativeCI = &r
		if one {
			s1, _ := ConfidenceSequenceOneSided(rel.Estimate, rel.SE, n, p.tuning, p.alpha, p.alt)
			rp = s1.PValue
			if rel.SE > 0 {
				so.RelativeCIOneSided = oneSidedCI(s1.CI)
			}
		}
		so.RelativePValue = &rp
	}
	return so
}

// powerOf computes the power during the test for the planned MDE.
func (p *prepared) powerOf(controlMean, se, n float64) *PowerOutput {
	mde := p.power.MDERelative * math.Abs(controlMean)
	po := &PowerOutput{MDERelative: p.power.MDERelative, MDEAbsolute: mde, Target: p.target}
	if mde == 0 {
		po.Error = errp(ErrBaselineZero)
		return po
	}
	e := PowerEngine{Engine: p.Engine, Alternative: p.alt, Alpha: p.alpha, Tuning: p.tuning, Prior: p.prior}
	e.Prior.Mean, e.Prior.SD = e.Prior.Mean*math.Abs(controlMean), e.Prior.SD*math.Abs(controlMean)
	if !(se > 0) {
		po.Error = errp(ErrZeroVariance)
		return po
	}
	po.Power = PowerDuringTest(mde, se, n, e)
	if k, ok := PowerScale(mde, se, n, p.target, e); ok {
		more := (k - 1) * n
		po.AdditionalUnits = &more
		if d := p.power.ElapsedDays; d != nil {
			days := (k - 1) * *d
			po.DaysNeeded = &days
		}
	}
	return po
}

// roi computes the ROI of variant vi from the roi metric's comparison.
func (p *prepared) roi(m MetricInput, c ComparisonOutput, vi int) ROIOutput {
	v := p.Variants[vi]
	ro := ROIOutput{Variant: v.Key, Metric: m.Key, Cost: v.PromotionCost}
	if c.Error != nil && c.Absolute.Method == "none" {
		ro.Error = c.Error
		return ro
	}
	n := p.units(m.Stats[v.Key], vi)
	r, err := ROI(Effect{Estimate: c.Absolute.Estimate, CI: c.Absolute.CI}, n, v.PromotionCost)
	ro.IncrementalRevenue, ro.IncrementalCI, ro.Net = r.IncrementalRevenue, r.IncrementalCI, r.Net
	if err != nil {
		ro.Error = errp(err)
		return ro
	}
	ro.ROI, ro.ROIPercent = &r.ROI, &r.ROIPercent
	ci := r.CI
	ro.CI = &ci
	if c.Error != nil {
		ro.Error = c.Error
	}
	return ro
}

// personalization computes the personalization lift (unadjusted means).
func (p *prepared) personalization() *PersLiftOutput {
	pi := p.Personalization
	m := p.Metrics[p.persIdx]
	po := &PersLiftOutput{Metric: m.Key, Personalized: pi.Personalized, Generic: pi.Generic, PValue: 1}
	gi, ti := p.index[pi.Generic], p.index[pi.Personalized]
	g, errG := p.armSummary(m, gi)
	t, errT := p.armSummary(m, ti)
	for _, e := range []error{errG, errT} {
		if e != nil {
			po.Error = errp(e)
			return po
		}
	}
	r, err := PersonalizationLift(g, t, p.alpha)
	po.Estimate, po.SE, po.PValue = r.Estimate, r.SE, r.PValue
	if err == nil || err == ErrZeroVariance {
		ci, cn := r.CI, r.CINormal
		po.CI, po.CINormal = &ci, &cn
	}
	po.Error = errp(err)
	return po
}

// PersonalizationLift returns the lift of the personalized arm over the
// generic arm, (m_pers − m_generic)/|m_generic|, with the delta-method SE,
// the Welch-df t CI and the normal CI exactly as RelativeLift(generic,
// personalized, alpha, WelchDF(generic, personalized)). A zero generic mean
// gives ErrBaselineZero.
func PersonalizationLift(generic, personalized Summary, alpha float64) (Relative, error) {
	return RelativeLift(generic, personalized, alpha, WelchDF(generic, personalized))
}

// Plan answers a sample-size or MDE question (DESIGN.md §5). Proportions:
// n = SampleSizeProportions(baseline, treatment) with treatment =
// baseline·(1+mde_relative) when only mde_relative is given; means:
// n = SampleSizeMeans(sigma, delta) (delta = mde_relative·baseline when
// only those are given). n_per_variant is rounded up and n_total =
// n_per_variant × variants (default 2). With n_per_variant in the input it
// returns the MDE instead: MDEProportion(baseline, n) or MDEMean(sigma, n).
// Defaults: alpha 0.05, power 0.8. Bad input gives a *ValidationError.
func Plan(in PlanInput) (PlanOutput, error) {
	out := PlanOutput{Metric: in.Metric, Alpha: DefaultAlpha, Power: 0.8}
	num := func(name string, v *float64) error {
		if v != nil {
			return checkNum(name, *v)
		}
		return nil
	}
	for _, f := range []struct {
		n string
		v *float64
	}{{"baseline", in.Baseline}, {"treatment", in.Treatment}, {"mde_relative", in.MDERelative}, {"sigma", in.Sigma},
		{"delta", in.Delta}, {"n_per_variant", in.NPerVariant}, {"alpha", in.Alpha}, {"power", in.Power}} {
		if err := num(f.n, f.v); err != nil {
			return out, err
		}
	}
	if in.Alpha != nil {
		if !(*in.Alpha > 0 && *in.Alpha < 1) {
			return out, verr("alpha", "must be in (0,1)")
		}
		out.Alpha = *in.Alpha
	}
	if in.Power != nil {
		if !(*in.Power > 0 && *in.Power < 1) {
			return out, verr("power", "must be in (0,1)")
		}
		out.Power = *in.Power
	}
	k := 2
	if in.Variants != nil {
		if *in.Variants < 2 || *in.Variants > 1000 {
			return out, verr("variants", "must be between 2 and 1000")
		}
		k = *in.Variants
	}
	if in.NPerVariant != nil && !(*in.NPerVariant > 0) {
		return out, verr("n_per_variant", "must be > 0")
	}
	if in.MDERelative != nil && *in.MDERelative == 0 {
		return out, verr("mde_relative", "must not be 0")
	}
	setN := func(n float64) error {
		if !(n > 0) || n > 1e15 {
			return verr("", "required sample size is out of range (%v)", n)
		}
		out.NPerVariant = math.Ceil(n * (1 - 1e-12))
		out.NTotal = out.NPerVariant * float64(k)
		return nil
	}
	switch in.Metric {
	case "proportion":
		if in.Baseline == nil {
			return out, verr("baseline", "missing")
		}
		p1 := *in.Baseline
		if !(p1 > 0 && p1 < 1) {
			return out, verr("baseline", "must be in (0,1)")
		}
		if in.NPerVariant != nil {
			mde, _ := MDEProportion(p1, *in.NPerVariant, out.Alpha, out.Power)
			out.NPerVariant = *in.NPerVariant
			out.NTotal = out.NPerVariant * float64(k)
			out.MDEAbsolute = mde
			r := mde / p1
			out.MDERelative = &r
			return out, nil
		}
		var p2 float64
		switch {
		case in.Treatment != nil:
			p2 = *in.Treatment
			if !(p2 > 0 && p2 < 1) {
				return out, verr("treatment", "must be in (0,1)")
			}
			if p2 == p1 {
				return out, verr("treatment", "must differ from baseline")
			}
		case in.MDERelative != nil:
			p2 = p1 * (1 + *in.MDERelative)
			if !(p2 > 0 && p2 < 1) {
				return out, verr("mde_relative", "gives a treatment rate outside (0,1)")
			}
		default:
			return out, verr("treatment", "missing (give treatment, mde_relative or n_per_variant)")
		}
		n, _ := SampleSizeProportions(p1, p2, out.Alpha, out.Power)
		if err := setN(n); err != nil {
			return out, err
		}
		out.MDEAbsolute = p2 - p1
		r := (p2 - p1) / p1
		out.MDERelative = &r
	case "mean":
		if in.Sigma == nil {
			return out, verr("sigma", "missing")
		}
		sigma := *in.Sigma
		if !(sigma > 0) {
			return out, verr("sigma", "must be > 0")
		}
		if in.Baseline != nil && *in.Baseline == 0 {
			return out, verr("baseline", "must not be 0")
		}
		if in.NPerVariant != nil {
			mde, _ := MDEMean(sigma, *in.NPerVariant, out.Alpha, out.Power)
			out.NPerVariant = *in.NPerVariant
			out.NTotal = out.NPerVariant * float64(k)
			out.MDEAbsolute = mde
			if in.Baseline != nil {
				r := mde / math.Abs(*in.Baseline)
				out.MDERelative = &r
			}
			return out, nil
		}
		var d float64
		switch {
		case in.Delta != nil:
			d = *in.Delta
			if d == 0 {
				return out, verr("delta", "must not be 0")
			}
		case in.MDERelative != nil && in.Baseline != nil:
			d = *in.MDERelative * math.Abs(*in.Baseline)
		default:
			return out, verr("delta", "missing (give delta, mde_relative with baseline, or n_per_variant)")
		}
		n, _ := SampleSizeMeans(sigma, d, out.Alpha, out.Power)
		if err := setN(n); err != nil {
			return out, err
		}
		out.MDEAbsolute = math.Abs(d)
		if in.Baseline != nil {
			r := math.Abs(d) / math.Abs(*in.Baseline)
			out.MDERelative = &r
		}
	case "":
		return out, verr("metric", "missing (proportion or mean)")
	default:
		return out, verr("metric", "must be proportion or mean, got %q", in.Metric)
	}
	return out, nil
}
