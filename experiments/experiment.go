package experiments

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
)

// Status is where an experiment is in its life.
type Status string

// The statuses. The legal transitions are draft → running, running ⇄ paused,
// running|paused → stopped, and draft|stopped → archived.
const (
	StatusDraft    Status = "draft"
	StatusRunning  Status = "running"
	StatusPaused   Status = "paused"
	StatusStopped  Status = "stopped"
	StatusArchived Status = "archived"
)

// Action is a requested status change, as named in the API
// (POST /experiments/{key}/{action}).
type Action string

// The actions.
const (
	ActionStart   Action = "start"
	ActionPause   Action = "pause"
	ActionResume  Action = "resume"
	ActionStop    Action = "stop"
	ActionArchive Action = "archive"
)

// transitions lists, per action, the statuses it may start from and the
// status it leads to.
var transitions = map[Action]struct {
	from []Status
	to   Status
}{
	ActionStart:   {[]Status{StatusDraft}, StatusRunning},
	ActionPause:   {[]Status{StatusRunning}, StatusPaused},
	ActionResume:  {[]Status{StatusPaused}, StatusRunning},
	ActionStop:    {[]Status{StatusRunning, StatusPaused}, StatusStopped},
	ActionArchive: {[]Status{StatusDraft, StatusStopped}, StatusArchived},
}

// Next returns the status that action leads to from s, or a conflict error
// naming the illegal transition (an invalid error for an unknown action).
func (s Status) Next(a Action) (Status, error) {
	t, ok := transitions[a]
	if !ok {
		return "", Invalid("action", "unknown_action", "unknown action %q (want start, pause, resume, stop or archive)", a)
	}
	for _, f := range t.from {
		if f == s {
			return t.to, nil
		}
	}
	return "", &Error{Kind: KindConflict, Code: "illegal_transition", Field: "status",
		Message: fmt.Sprintf("cannot %s an experiment that is %s", a, s)}
}

// PromotionType is the kind of promotion a variant offers.
type PromotionType string

// The promotion types.
const (
	PromoNone         PromotionType = "none"
	PromoPercentOff   PromotionType = "percent_off"
	PromoAmountOff    PromotionType = "amount_off"
	PromoCashback     PromotionType = "cashback"
	PromoFreeShipping PromotionType = "free_shipping"
	PromoBundle       PromotionType = "bundle"
	PromoPoints       PromotionType = "points"
	PromoFreeTrial    PromotionType = "free_trial"
)

// CostRule says how a promotion's cost is counted.
type CostRule string

// The cost rules. The zero value means the type's natural rule
// (per redemption for every type but none).
const (
	CostPerRedemption CostRule = "per_redemption"
	CostPerExposure   CostRule = "per_exposure"
	CostFixed         CostRule = "fixed"
)

// Promotion is what a variant gives the customer and what it costs.
//
// Value's meaning depends on Type: percent for percent_off and cashback
// (0 < v ≤ 100), an amount in minor units for amount_off, the number of
// points for points, days for free_trial; unused for none, free_shipping
// and bundle. UnitCost is the cost in minor units of one redemption where the
// type cannot derive it from the order (free_shipping: the shipping cost;
// bundle: the cost of the bundled item; points: the value of one point;
// per_exposure: the cost of one exposure; fixed: the whole fixed cost).
// Budget, when positive, caps the variant's total spend in minor units.
type Promotion struct {
	Type     PromotionType
	Value    float64
	CostRule CostRule
	UnitCost int64
	Currency string
	Budget   int64
}

// Variant is one arm of an experiment.
type Variant struct {
	Key       string
	Name      string
	Weight    float64
	Promotion Promotion
	// FlagValue is the JSON value apps read when they evaluate the
	// experiment as a flag; empty means the variant key as a string.
	FlagValue json.RawMessage
}

// Namespace restricts an experiment to the slice [Start, End) of the
// namespace ID, so experiments in disjoint slices never share a unit.
type Namespace struct {
	ID         string
	Start, End float64
}

// Experiment is a promotion experiment.
type Experiment struct {
	Key         string
	Name        string
	Hypothesis  string
	Owner       string
	Environment string
	Status      Status

	// Hashing and bucketing (see package assign).
	UnitAttribute     string // the attribute hashed; default "id"
	FallbackAttribute string
	Seed              string // default: the key
	HashVersion       int    // 1 or 2; default 2
	BucketVersion     int    // bumped to re-randomize on purpose
	MinBucketVersion  int
	Sticky            bool // store assignments server-side
	Coverage          float64
	Variants          []Variant
	Namespace         *Namespace
	Layer             string
	// Condition is a targeting condition document in the condition
	// language of package assign; empty means everyone.
	Condition json.RawMessage

	PrimaryMetric     string
	SecondaryMetrics  []string
	GuardrailMetrics  []string
	AttributionWindow time.Duration
	Segments          []string // dimensions to break the report down by
	Personalization   bool
	// Engine is the analysis engine: frequentist, bayesian or sequential.
	Engine           string
	SequentialTuning int
	// Alternative is the report's test: "two-sided" (default), "greater"
	// (H1: treatment − control > 0) or "less".
	Alternative string
	// LowerIsBetterMetrics are metrics whose decrease is an improvement,
	// in addition to those LowerIsBetter recognises by name.
	LowerIsBetterMetrics []string
	// PlannedMDE is the relative minimum detectable effect the experiment
	// is planned for (0.05 is 5%); zero means DefaultDecisionMDE.
	PlannedMDE float64
	CapGroup   string // frequency cap group, if any
	MinROI     float64
	// Allocation is how traffic is split: fixed weights (the zero value)
	// or an adaptive bandit (bandit.go).
	Allocation Allocation

	StartedAt time.Time // zero until started
	EndedAt   time.Time // zero until stopped
	CreatedAt time.Time
	UpdatedAt time.Time
	// Revision increases by one with every stored change; stores use it
	// for optimistic concurrency.
	Revision int64
}

// TargetingKeyAttribute is the OpenFeature evaluation context's unit ID
// (OFREP sets the attribute DefaultUnitAttribute from it). Exposures do not
// keep it among their attributes, as they keep no unit ID.
const TargetingKeyAttribute = "targetingKey"

// KeepsAttribute reports whether exposures to e keep the attribute name
// (docs/security.md, "Data kept"): only the experiment's breakdown
// dimensions (Segments) and the built-in segment attributes rfm_segment and
// aipl_stage. Every other attribute (email, phone, …) serves targeting and
// hashing only and is never stored, nor is a unit ID (the attributes id,
// targetingKey, and the hash and fallback attributes).
func (e *Experiment) KeepsAttribute(name string) bool {
	switch name {
	case "", DefaultUnitAttribute, TargetingKeyAttribute, e.UnitAttribute, e.FallbackAttribute:
		return false
	case AttrRFMSegment, AttrAIPLStage:
		return true
	}
	return slices.Contains(e.Segments, name)
}

// Defaults applied by ApplyDefaults.
const (
	DefaultUnitAttribute     = "id"
	DefaultHashVersion       = 2
	DefaultAttributionWindow = 7 * 24 * time.Hour
	DefaultEnvironment       = "production"
	DefaultEngine            = "frequentist"
	DefaultAlternative       = "two-sided"
)

// ApplyDefaults fills the fields left empty with their defaults.
func (e *Experiment) ApplyDefaults() {
	if e.UnitAttribute == "" {
		e.UnitAttribute = DefaultUnitAttribute
	}
	if e.Seed == "" {
		e.Seed = e.Key
	}
	if e.HashVersion == 0 {
		e.HashVersion = DefaultHashVersion
	}
	if e.BucketVersion == 0 {
		e.BucketVersion = 1
	}
	if e.Environment == "" {
		e.Environment = DefaultEnvironment
	}
	if e.AttributionWindow == 0 {
		e.AttributionWindow = DefaultAttributionWindow
	}
	if e.Engine == "" {
		e.Engine = DefaultEngine
	}
	if e.Alternative == "" {
		e.Alternative = DefaultAlternative
	}
	if e.Name == "" {
		e.Name = e.Key
	}
	e.Allocation.applyDefaults()
	if e.Allocation.Bandit() {
		e.Sticky = true // a unit keeps its variant when the weights move
	}
	for i := range e.Variants {
		if e.Variants[i].Promotion.Type == "" {
			e.Variants[i].Promotion.Type = PromoNone
		}
		if e.Variants[i].Promotion.CostRule == "" {
			e.Variants[i].Promotion.CostRule = CostPerRedemption
		}
	}
}

// Control returns the control variant: the first one.
func (e *Experiment) Control() *Variant {
	if len(e.Variants) == 0 {
		return nil
	}
	return &e.Variants[0]
}

// Variant returns the variant with key, or nil.
func (e *Experiment) Variant(key string) *Variant {
	for i := range e.Variants {
		if e.Variants[i].Key == key {
			return &e.Variants[i]
		}
	}
	return nil
}

// keyPattern is the shape of experiment, flag and variant keys: URL-safe,
// starting with a letter or digit.
var keyPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$`)

// ValidKey reports whether s is a valid experiment, flag or variant key.
func ValidKey(s string) bool { return keyPattern.MatchString(s) }

// weightTolerance is how far the weights may sum from 1.
const weightTolerance = 1e-6

var validEngines = map[string]bool{"frequentist": true, "bayesian": true, "sequential": true}

var validAlternatives = map[string]bool{"two-sided": true, "greater": true, "less": true}

// Validate checks the definition and returns every problem found, each
// naming its field. It does not check the condition's operators; the
// Service does that with package assign.
func (e *Experiment) Validate() error {
	var errs ValidationErrors
	if !ValidKey(e.Key) {
		errs.add("key", "invalid_key", "must be 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit")
	}
	if len(e.Name) > 200 {
		errs.add("name", "too_long", "must be at most 200 characters")
	}
	if len(e.Hypothesis) > 5000 {
		errs.add("hypothesis", "too_long", "must be at most 5000 characters")
	}
	if e.Environment != "" && !ValidKey(e.Environment) {
		errs.add("environment", "invalid_key", "must be a key such as production or staging")
	}
	if e.HashVersion != 1 && e.HashVersion != 2 {
		errs.add("hash_version", "invalid_hash_version", "must be 1 or 2")
	}
	if math.IsNaN(e.Coverage) || e.Coverage < 0 || e.Coverage > 1 {
		errs.add("coverage", "out_of_range", "must be between 0 and 1")
	}
	if e.BucketVersion < 1 || e.MinBucketVersion < 0 || e.MinBucketVersion > e.BucketVersion {
		errs.add("min_bucket_version", "out_of_range", "must be between 0 and bucket_version")
	}
	if e.AttributionWindow <= 0 || e.AttributionWindow > 365*24*time.Hour {
		errs.add("attribution_window_hours", "out_of_range", "must be between 1 hour and 365 days")
	}
	if !validEngines[e.Engine] {
		errs.add("engine", "invalid_engine", "must be frequentist, bayesian or sequential")
	}
	if e.SequentialTuning < 0 {
		errs.add("sequential_tuning", "out_of_range", "must not be negative")
	}
	if !validAlternatives[e.Alternative] {
		errs.add("alternative", "invalid_alternative", "must be two-sided, greater or less")
	}
	if math.IsNaN(e.PlannedMDE) || e.PlannedMDE < 0 || e.PlannedMDE >= 10 {
		errs.add("planned_mde", "out_of_range", "must be a relative effect in (0, 10) as a fraction (0.05 is 5%%), or omitted")
	}
	for i, m := range e.LowerIsBetterMetrics {
		if !ValidKey(m) {
			errs.add(fmt.Sprintf("lower_is_better_metrics[%d]", i), "invalid_key", "must be a metric name")
		}
	}
	if e.Namespace != nil {
		ns := e.Namespace
		if ns.ID == "" {
			errs.add("namespace.id", "required", "is required")
		}
		if !(ns.Start >= 0 && ns.Start < ns.End && ns.End <= 1) {
			errs.add("namespace.range", "out_of_range", "must satisfy 0 <= start < end <= 1")
		}
	}
	validateVariants(e.Variants, &errs)
	e.Allocation.validate(len(e.Variants), &errs)
	return errs.Err()
}

func validateVariants(vs []Variant, errs *ValidationErrors) {
	if len(vs) < 2 {
		errs.add("variants", "too_few_variants", "an experiment needs at least 2 variants (the first is control)")
	}
	if len(vs) > 20 {
		errs.add("variants", "too_many_variants", "an experiment has at most 20 variants")
	}
	seen := make(map[string]int, len(vs))
	sum := 0.0
	for i, v := range vs {
		field := fmt.Sprintf("variants[%d]", i)
		if !ValidKey(v.Key) {
			errs.add(field+".key", "invalid_key", "must be 1-100 letters, digits, '_', '-' or '.'")
		} else if j, dup := seen[v.Key]; dup {
			errs.add(field+".key", "duplicate_key", "duplicates variants[%d].key %q", j, v.Key)
		} else {
			seen[v.Key] = i
		}
		if math.IsNaN(v.Weight) || v.Weight < 0 || v.Weight > 1 {
			errs.add(field+".weight", "out_of_range", "must be between 0 and 1")
		} else {
			sum += v.Weight
		}
		if len(v.FlagValue) > 0 && !json.Valid(v.FlagValue) {
			errs.add(field+".flag_value", "invalid_json", "must be a JSON value")
		}
		v.Promotion.validate(field+".promotion", errs)
	}
	if len(vs) >= 2 && math.Abs(sum-1) > weightTolerance {
		errs.add("variants", "weights_sum", "weights must sum to 1 (they sum to %g)", sum)
	}
}

var validCostRules = map[CostRule]bool{CostPerRedemption: true, CostPerExposure: true, CostFixed: true}

func (p Promotion) validate(field string, errs *ValidationErrors) {
	switch p.Type {
	case PromoNone, PromoFreeShipping, PromoBundle:
	case PromoPercentOff, PromoCashback:
		if !(p.Value > 0 && p.Value <= 100) {
			errs.add(field+".value", "out_of_range", "a %s promotion needs a value in (0, 100] percent", p.Type)
		}
	case PromoAmountOff, PromoPoints, PromoFreeTrial:
		if !(p.Value > 0) || math.IsInf(p.Value, 0) {
			errs.add(field+".value", "out_of_range", "a %s promotion needs a positive value", p.Type)
		}
	default:
		errs.add(field+".type", "unknown_promotion_type",
			"unknown promotion type %q (want none, percent_off, amount_off, cashback, free_shipping, bundle, points or free_trial)", p.Type)
	}
	if p.CostRule != "" && !validCostRules[p.CostRule] {
		errs.add(field+".cost_rule", "unknown_cost_rule", "must be per_redemption, per_exposure or fixed")
	}
	if p.UnitCost < 0 {
		errs.add(field+".unit_cost", "negative", "must not be negative")
	}
	if p.Budget < 0 {
		errs.add(field+".budget", "negative", "must not be negative")
	}
	if p.Currency != "" && !ValidCurrency(p.Currency) {
		errs.add(field+".currency", "unknown_currency", "unknown ISO 4217 currency %q", p.Currency)
	}
}
