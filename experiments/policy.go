package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/promolift/promolift/stats/policy"
)

// Policy learning (issue 18, DESIGN.md §10): which promotion for which
// customers, from a randomized test. The estimation is package
// stats/policy; this file reads its input from a PolicyStore and checks
// the options.

// The objectives of a policy.
const (
	PolicyNetRevenue = "net_revenue" // revenue − promotion cost per unit (default)
	PolicyRevenue    = "revenue"     // revenue per unit
	PolicyConversion = "conversion"  // converted units per unit
)

// Policy defaults and limits.
const (
	DefaultPolicyFolds = 5
	MaxPolicyFeatures  = policy.MaxFeatures
	MaxPolicyHorizon   = 365 * 24 * time.Hour
)

// PolicyQuery asks a store for the per-cell, per-arm, per-fold sufficient
// statistics of one experiment's analysed units.
type PolicyQuery struct {
	Experiment string
	// Metric is the conversion name whose revenue and cost are counted
	// (the experiment's primary metric).
	Metric string
	// Features are the cell's attributes: an attribute of the unit's first
	// exposure, or "channel" (the exposure's channel). Units without one
	// have the value NoSlice.
	Features []string
	// Folds is K: a unit's fold is PolicyFold(unit ID, K).
	Folds int
	// Horizon, when positive, counts the unit's conversions of Metric in
	// [first exposure, first exposure + Horizon] (a promotion's cost rule
	// applies within the attribution window, only recorded costs after it);
	// zero counts its attributed conversions (the attribution window).
	Horizon time.Duration
	// ExposureCosts are the per-exposure costs of the variants whose cost
	// rule is per_exposure: a unit's cost adds cost × its exposures.
	ExposureCosts    map[string]int64
	MultipleExposure MultipleExposure
}

// PolicyCell are the sums over the units of one cell (Segment: the values
// of PolicyQuery.Features, in order), variant and fold. A unit's revenue
// and cost are the sums over its counted conversions; net = revenue − cost.
type PolicyCell struct {
	Segment        []string
	Variant        string
	Fold           int
	Units          int64
	Converted      int64 // units with a counted conversion
	Revenue        float64
	RevenueSquares float64
	Net            float64
	NetSquares     float64
	Cost           float64
}

// PolicyStore is an optional store capability: the statistics of policy
// learning. Both SQL stores implement it.
type PolicyStore interface {
	PolicyStats(ctx context.Context, q PolicyQuery) ([]PolicyCell, error)
}

// PolicyFold is the fold of a unit: FNV-1a (64 bit) of "policy-fold:" and
// the unit ID, modulo folds. It does not depend on the experiment, nor on
// the assignment hash (which is salted with the experiment's seed).
func PolicyFold(unitID string, folds int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte("policy-fold:"))
	_, _ = h.Write([]byte(unitID))
	return int(h.Sum64() % uint64(folds))
}

// PolicyOptions are the questions of a policy request. Zero fields take
// the defaults.
type PolicyOptions struct {
	// Features default to the experiment's segments (breakdown
	// attributes) and rfm_segment, aipl_stage.
	Features []string
	// Budget, when set, is the promotion spend allowed for Units units, in
	// minor units.
	Budget *int64
	// Metric is the objective: PolicyNetRevenue (default), PolicyRevenue
	// or PolicyConversion.
	Metric string
	// Horizon: see PolicyQuery.Horizon.
	Horizon time.Duration
	// Units is the population the budget and the spend are for; 0: the
	// experiment's analysed units.
	Units int64
	// Folds: default DefaultPolicyFolds.
	Folds int
}

// ErrNoPolicy is returned when the store cannot read policy statistics.
var ErrNoPolicy = &Error{Kind: KindNotFound, Code: "policy_unsupported", Message: "this store cannot learn policies"}

// DefaultPolicyFeatures are the features of e's policies by default.
func DefaultPolicyFeatures(e *Experiment) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, f := range append(append([]string{}, e.Segments...), AttrRFMSegment, AttrAIPLStage) {
		if f != "" && f != DimensionHour && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// checkKeptFeatures refuses the features that exposures of e do not keep
// (Experiment.KeepsAttribute; docs/security.md, "Data kept"): every unit
// would fall in (none) for them, so the policy could not tell anyone apart.
// channel is always kept. Every such feature is named in one error.
func checkKeptFeatures(e *Experiment, features []string) error {
	var errs ValidationErrors
	for _, f := range features {
		if f != DimensionChannel && f != DimensionHour && !e.KeepsAttribute(f) {
			errs.add("features", "feature_not_kept",
				"exposures of %s do not keep %q: add it to the experiment's segments to learn from it", e.Key, f)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// WithDefaults returns o with its zero Metric and Folds set to the
// defaults.
func (o PolicyOptions) WithDefaults() PolicyOptions {
	if o.Metric == "" {
		o.Metric = PolicyNetRevenue
	}
	if o.Folds == 0 {
		o.Folds = DefaultPolicyFolds
	}
	return o
}

// Validate returns every problem of o (after WithDefaults) as
// ValidationErrors, each naming its query field; nil when none.
func (o PolicyOptions) Validate() error {
	var errs ValidationErrors
	if len(o.Features) > MaxPolicyFeatures {
		errs.add("features", "too_many_features", "at most %d features", MaxPolicyFeatures)
	}
	seen := map[string]bool{}
	for _, f := range o.Features {
		switch {
		case f == "" || len(f) > MaxNameLen:
			errs.add("features", "invalid_feature", "a feature is an attribute name of 1 to %d bytes", MaxNameLen)
		case f == DimensionHour:
			errs.add("features", "invalid_feature", "hour is not a customer feature")
		case seen[f]:
			errs.add("features", "duplicate_feature", "feature %q is named twice", f)
		}
		seen[f] = true
	}
	switch o.Metric {
	case PolicyNetRevenue, PolicyRevenue, PolicyConversion:
	default:
		errs.add("metric", "invalid_metric", "metric must be net_revenue, revenue or conversion")
	}
	if o.Budget != nil && *o.Budget < 0 {
		errs.add("budget", "negative", "budget must not be negative")
	}
	if o.Horizon < 0 || o.Horizon > MaxPolicyHorizon {
		errs.add("horizon_days", "out_of_range", "horizon must be between 0 (the attribution window) and 365 days")
	}
	if o.Units < 0 {
		errs.add("units", "negative", "units must not be negative")
	}
	if o.Folds < 2 || o.Folds > policy.MaxFolds {
		errs.add("folds", "out_of_range", "folds must be between 2 and %d", policy.MaxFolds)
	}
	return errs.Err()
}

// PolicyInput reads the input of policy learning for experiment key: the
// statistics of its analysed units by cell of opts.Features, arm and fold,
// with the experiment's design weights. It returns the experiment too.
func (s *Service) PolicyInput(ctx context.Context, key string, opts PolicyOptions) (policy.Input, *Experiment, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return policy.Input{}, nil, err
	}
	st, ok := s.store.(PolicyStore)
	if !ok {
		return policy.Input{}, nil, ErrNoPolicy
	}
	exp, err := s.store.GetExperiment(ctx, key)
	if err != nil {
		return policy.Input{}, nil, err
	}
	if opts.Features == nil {
		opts.Features = DefaultPolicyFeatures(exp)
	}
	if err := checkKeptFeatures(exp, opts.Features); err != nil {
		return policy.Input{}, nil, err
	}
	q := PolicyQuery{Experiment: key, Metric: exp.PrimaryMetric, Features: opts.Features, Folds: opts.Folds,
		Horizon: opts.Horizon, MultipleExposure: MultipleExclude, ExposureCosts: map[string]int64{}}
	if q.Metric == "" {
		q.Metric = PurchaseEvent
	}
	for _, v := range exp.Variants {
		if v.Promotion.CostRule == CostPerExposure {
			q.ExposureCosts[v.Key] = v.Promotion.UnitCost
		}
	}
	cells, err := st.PolicyStats(ctx, q)
	if err != nil {
		return policy.Input{}, nil, fmt.Errorf("policy %s: %w", key, err)
	}
	in := policy.Input{Metric: opts.Metric, Features: opts.Features, Folds: opts.Folds,
		PopulationUnits: float64(opts.Units), Cells: []policy.CellStats{}}
	if opts.Budget != nil {
		b := float64(*opts.Budget)
		in.Budget = &b
	}
	for _, v := range exp.Variants {
		w := v.Weight
		if w <= 0 {
			// A variant without traffic cannot be learned; it stays in the
			// input with a tiny weight only if it has units (it should not).
			w = 1e-9
		}
		in.Arms = append(in.Arms, policy.Arm{Key: v.Key, Weight: w})
	}
	known := map[string]bool{}
	for _, v := range exp.Variants {
		known[v.Key] = true
	}
	for _, c := range cells {
		if !known[c.Variant] {
			continue // exposures naming a variant the experiment no longer has
		}
		seg := make(map[string]string, len(opts.Features))
		for i, f := range opts.Features {
			seg[f] = c.Segment[i]
		}
		cs := policy.CellStats{Segment: seg, Variant: c.Variant, Fold: c.Fold, Units: float64(c.Units),
			Converted: float64(c.Converted), Cost: c.Cost}
		switch opts.Metric {
		case PolicyNetRevenue:
			cs.Sum, cs.SumSquares = c.Net, c.NetSquares
		case PolicyRevenue:
			cs.Sum, cs.SumSquares = c.Revenue, c.RevenueSquares
		case PolicyConversion:
			cs.Sum, cs.SumSquares = float64(c.Converted), float64(c.Converted)
		}
		in.Cells = append(in.Cells, cs)
	}
	return in, exp, nil
}

// Policy learns the policy of experiment key (see package stats/policy).
func (s *Service) Policy(ctx context.Context, key string, opts PolicyOptions) (*policy.Output, *Experiment, error) {
	in, exp, err := s.PolicyInput(ctx, key, opts)
	if err != nil {
		return nil, nil, err
	}
	out, err := policy.Learn(in)
	if err != nil {
		return nil, nil, fmt.Errorf("policy %s: %w", key, err)
	}
	return out, exp, nil
}

// Currency is the currency of e's promotions ("" when none names one).
func (e *Experiment) Currency() string { return e.currency() }

// FollowUp asks for a follow-up experiment of a learned policy.
type FollowUp struct {
	// Key of the new experiment; default: the experiment's key and
	// "-policy".
	Key string
	// Weights of control, the best single promotion and the personalized
	// arm; default 1/3 each (0.34, 0.33, 0.33).
	Weights *[3]float64
	PolicyOptions
}

// PersonalizedVariant is the key of a follow-up's personalized arm.
const PersonalizedVariant = "personalized"

// PolicyFollowUp learns the policy of experiment key and creates a draft
// experiment to validate it live: control (the original control), the
// best single promotion for everyone, and a personalized arm that applies
// the learned rules. The personalized arm's flag value is the rule table,
// {"policy": {"features": [...], "rules": [{"segment": {...}, "variant":
// "ten_off", "promotion": {...}}], "default": "<variant>"}}: the app gives
// a customer the promotion of the customer's cell (the default one for a
// cell not in the table) and reports the promotion_cost of each order.
// The experiment breaks down by the features (so its exposures carry them
// and its report shows each cell), is a personalization test, and keeps
// the original's primary metric, attribution window, environment and
// targeting. With a budget B (for U units), the personalized and the
// best-single arm may each spend B × their weight: the same money, so the
// comparison is fair, and assignment stops promoting once it is spent.
func (s *Service) PolicyFollowUp(ctx context.Context, who Principal, key string, f FollowUp) (*Experiment, *policy.Output, error) {
	out, src, err := s.Policy(ctx, key, f.PolicyOptions)
	if err != nil {
		return nil, nil, err
	}
	if out.Error != "" || out.BestSingle.Variant == "" {
		return nil, nil, &Error{Kind: KindConflict, Code: "no_policy", Field: "key",
			Message: fmt.Sprintf("experiment %q has no data to learn a policy from (%s)", key, out.Error)}
	}
	w := [3]float64{0.34, 0.33, 0.33}
	if f.Weights != nil {
		w = *f.Weights
	}
	if f.Key == "" {
		f.Key = key + "-policy"
	}
	best := src.Variant(out.BestSingle.Variant)
	ctrl := src.Variants[0]
	// The personalized arm's promotion: that of the rule arm serving the
	// most units (its cost rule and currency describe the arm; the cost of
	// each order is the one the app reports).
	units := map[string]float64{}
	for _, r := range out.Rules {
		if r.Variant != ctrl.Key {
			units[r.Variant] += r.Units
		}
	}
	main := best
	for k, n := range units {
		if v := src.Variant(k); v != nil && (n > units[main.Key] || n == units[main.Key] && k < main.Key) {
			main = v
		}
	}
	type ruleDoc struct {
		Segment   map[string]string `json:"segment"`
		Variant   string            `json:"variant"`
		Promotion map[string]any    `json:"promotion"`
	}
	promo := func(v *Variant) map[string]any {
		return map[string]any{"type": v.Promotion.Type, "value": v.Promotion.Value, "cost_rule": v.Promotion.CostRule,
			"unit_cost": v.Promotion.UnitCost, "currency": v.Promotion.Currency}
	}
	rules := make([]ruleDoc, 0, len(out.Rules))
	for _, r := range out.Rules {
		rules = append(rules, ruleDoc{Segment: r.Segment, Variant: r.Variant, Promotion: promo(src.Variant(r.Variant))})
	}
	doc, err := json.Marshal(map[string]any{"policy": map[string]any{"features": out.Features, "rules": rules, "default": best.Key}})
	if err != nil {
		return nil, nil, fmt.Errorf("policy follow-up: %w", err)
	}
	persKey := PersonalizedVariant
	if best.Key == persKey || ctrl.Key == persKey {
		persKey = "learned_policy"
	}
	pers := Variant{Key: persKey, Name: "Personalized (learned policy)", Weight: w[2],
		Promotion: main.Promotion, FlagValue: doc}
	bs := *best
	bs.Weight = w[1]
	c := ctrl
	c.Weight = w[0]
	pers.Promotion.Budget, bs.Promotion.Budget = 0, 0
	if f.Budget != nil {
		pers.Promotion.Budget = int64(math.Round(float64(*f.Budget) * w[2]))
		bs.Promotion.Budget = int64(math.Round(float64(*f.Budget) * w[1]))
	}
	e := &Experiment{Key: f.Key, Name: "Learned policy vs " + best.Key + ": " + src.Name,
		Hypothesis: fmt.Sprintf("The policy learned from %s (value %.2f per unit, %.2f over %s) beats the best single promotion on %s per unit",
			key, out.Value.Estimate, out.GainOverBestSingle.Estimate, best.Key, out.Metric),
		Owner: src.Owner, Environment: src.Environment, Coverage: src.Coverage, Condition: src.Condition,
		Variants: []Variant{c, bs, pers}, PrimaryMetric: src.PrimaryMetric, SecondaryMetrics: src.SecondaryMetrics,
		GuardrailMetrics: src.GuardrailMetrics, AttributionWindow: src.AttributionWindow, Segments: out.Features,
		Personalization: true, Engine: src.Engine, SequentialTuning: src.SequentialTuning, CapGroup: src.CapGroup,
		MinROI: src.MinROI}
	if err := s.CreateExperiment(ctx, who, e); err != nil {
		return nil, nil, err
	}
	return e, out, nil
}
