package assign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Spec is the snapshot the server serves to SDKs and the SDK evaluates: the
// experiments, feature flags, saved groups, layers and holdouts at one
// version. Field names follow GrowthBook's SDK payload so that a GrowthBook
// payload (features, savedGroups, experiments) decodes as a Spec.
//
// Obtain a usable Spec with DecodeSpec (or DecodeSpecLax); a Spec built by
// hand must go through Compile before evaluation. A compiled Spec is
// immutable and safe for concurrent use.
type Spec struct {
	// Version identifies the snapshot (an ETag, a counter, a hash).
	Version string `json:"version,omitempty"`
	// Experiments are evaluated by key with Run.
	Experiments []Experiment `json:"experiments,omitempty"`
	// Features are the flags, evaluated by key with EvalFeature.
	Features map[string]Feature `json:"features,omitempty"`
	// SavedGroups hold the member lists for $inGroup / $notInGroup.
	SavedGroups SavedGroups `json:"savedGroups,omitempty"`
	// Layers make experiments mutually exclusive (see Layer).
	Layers []Layer `json:"layers,omitempty"`
	// Holdouts exclude a share of units from the experiments they cover.
	Holdouts []Holdout `json:"holdouts,omitempty"`
	// ContextualBandits are GrowthBook contextual bandit definitions
	// referenced by rules' contextualBanditRef. Only the marginal weights
	// are used (leaf -1); the context tree is not evaluated.
	ContextualBandits map[string]ContextualBandit `json:"contextualBandits,omitempty"`
	// OptOuts are the units that withdrew promotion consent (promolift;
	// see Eval.CheckConsent and Experiment.Consent).
	OptOuts *OptOuts `json:"optOuts,omitempty"`

	byKey    map[string]int
	compiled bool
}

// Experiment is one experiment, in GrowthBook's experiment JSON shape plus
// the promolift fields layer and layerRange.
type Experiment struct {
	// Key identifies the experiment; it is also the default hash seed.
	Key string `json:"key"`
	// Name is a human-readable name.
	Name string `json:"name,omitempty"`
	// Variations holds each variant's value as raw JSON.
	Variations []json.RawMessage `json:"variations"`
	// Meta names each variant: Meta[i].Key is variant i's key ("control", "ten_off").
	Meta []VariationMeta `json:"meta,omitempty"`
	// Weights are the traffic shares of the variants (default: equal).
	Weights []float64 `json:"weights,omitempty"`
	// Coverage is the share of eligible units included (default 1).
	Coverage *float64 `json:"coverage,omitempty"`
	// Ranges, when set, replace the bucket ranges computed from coverage and weights.
	Ranges []Range `json:"ranges,omitempty"`
	// Active false switches the experiment off (everyone gets variation 0, not in experiment).
	Active *bool `json:"active,omitempty"`
	// Status is GrowthBook's status: "draft" excludes everyone, "stopped" too unless Force is set.
	Status string `json:"status,omitempty"`
	// Condition is the targeting condition (see ParseCondition).
	Condition json.RawMessage `json:"condition,omitempty"`
	// ParentConditions are prerequisite flags that must pass.
	ParentConditions []ParentCondition `json:"parentConditions,omitempty"`
	// Namespace restricts the experiment to a slice of a namespace.
	Namespace *Namespace `json:"namespace,omitempty"`
	// Layer puts the experiment into a layer (promolift): it gets the slice
	// LayerRange of the namespace named by the layer key.
	Layer string `json:"layer,omitempty"`
	// LayerRange is the experiment's slice of its layer.
	LayerRange *Range `json:"layerRange,omitempty"`
	// Filters are GrowthBook hash filters (all must pass; they override Namespace).
	Filters []Filter `json:"filters,omitempty"`
	// Force, when set, assigns every included unit to this variation.
	Force *int `json:"force,omitempty"`
	// HashAttribute is the unit attribute to hash (default "id").
	HashAttribute string `json:"hashAttribute,omitempty"`
	// FallbackAttribute is hashed when HashAttribute is missing or empty.
	FallbackAttribute string `json:"fallbackAttribute,omitempty"`
	// HashVersion is 1 (default on the wire, as GrowthBook) or 2.
	HashVersion int `json:"hashVersion,omitempty"`
	// Seed is the hash seed (default: Key).
	Seed string `json:"seed,omitempty"`
	// Phase is GrowthBook's phase id (informational).
	Phase string `json:"phase,omitempty"`
	// BucketVersion and MinBucketVersion drive sticky bucketing resets.
	BucketVersion    int `json:"bucketVersion,omitempty"`
	MinBucketVersion int `json:"minBucketVersion,omitempty"`
	// DisableStickyBucketing turns sticky bucketing (and the fallback attribute) off.
	DisableStickyBucketing bool `json:"disableStickyBucketing,omitempty"`
	// Consent marks an experiment whose server applies the unit's promotion
	// consent (promolift): a unit that withdrew it gets control. An
	// evaluator that cannot see consent (Eval.WithoutConsent, such as an
	// SDK evaluating locally) gives control with ReasonConsentUnknown.
	Consent bool `json:"consent,omitempty"`

	c *compiledExp
}

// VariationMeta describes one variation.
type VariationMeta struct {
	Key         string `json:"key,omitempty"`
	Name        string `json:"name,omitempty"`
	Passthrough bool   `json:"passthrough,omitempty"`
}

// ParentCondition is a prerequisite: the feature ID must evaluate to a value
// satisfying Condition (evaluated against {"value": <feature value>}).
type ParentCondition struct {
	ID        string          `json:"id"`
	Condition json.RawMessage `json:"condition,omitempty"`
	Gate      bool            `json:"gate,omitempty"`

	cond Condition
}

// Filter is a GrowthBook hash filter: the unit passes when
// Hash(Seed, unit, HashVersion or 2) falls into one of Ranges.
type Filter struct {
	Seed        string  `json:"seed"`
	Ranges      []Range `json:"ranges"`
	HashVersion int     `json:"hashVersion,omitempty"`
	Attribute   string  `json:"attribute,omitempty"`
}

// Feature is a feature flag: a default value and ordered rules, plus the
// promolift flag fields SDKs report (variant names, enabled, metadata).
// Evaluation (EvalFeature) uses only DefaultValue and Rules; the other
// fields describe the flag to OpenFeature providers.
type Feature struct {
	DefaultValue json.RawMessage `json:"defaultValue,omitempty"`
	Rules        []Rule          `json:"rules,omitempty"`
	// Variants maps each variant name to its value (promolift).
	Variants map[string]json.RawMessage `json:"variants,omitempty"`
	// DefaultVariant names the variant whose value is DefaultValue.
	DefaultVariant string `json:"defaultVariant,omitempty"`
	// Enabled false marks a disabled flag: providers report the DISABLED
	// reason and the caller's default. Absent (nil) means enabled.
	Enabled *bool `json:"enabled,omitempty"`
	// Metadata is the flag's metadata, a JSON object of string, number and
	// boolean values (OpenFeature flag metadata).
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// IsEnabled reports whether the flag is enabled (Enabled is nil or true).
func (f *Feature) IsEnabled() bool { return f.Enabled == nil || *f.Enabled }

// MissingHashAttribute reports the first rule of f that hashes the unit (a
// percentage rollout or an experiment rule) while attrs lack a usable value
// of its hash attribute (and fallback attribute), and that attribute's
// name. OpenFeature providers report such an evaluation as
// TARGETING_KEY_MISSING.
func (f *Feature) MissingHashAttribute(attrs Attributes) (attr string, missing bool) {
	for i := range f.Rules {
		r := &f.Rules[i]
		var hashes bool
		if len(r.Force) > 0 {
			hashes = r.Coverage != nil || r.Range != nil
		} else {
			hashes = len(r.Variations) > 0 || len(r.ContextualVariations) > 0
		}
		if !hashes {
			continue
		}
		fallback := r.FallbackAttribute
		if r.DisableStickyBucketing {
			fallback = ""
		}
		if name, _, ok := hashAttr(attrs, r.HashAttribute, fallback); !ok {
			return name, true
		}
	}
	return "", false
}

// Rule is a feature rule in GrowthBook's shape. A rule with a "force" key
// (even null) is a force/rollout rule; otherwise a rule with variations is an
// experiment rule; other rules are ignored.
type Rule struct {
	ID string `json:"id,omitempty"`
	// Variant names the flag variant a force rule serves (promolift).
	Variant                string            `json:"variant,omitempty"`
	Condition              json.RawMessage   `json:"condition,omitempty"`
	ParentConditions       []ParentCondition `json:"parentConditions,omitempty"`
	Force                  json.RawMessage   `json:"force,omitempty"`
	Variations             []json.RawMessage `json:"variations,omitempty"`
	Weights                []float64         `json:"weights,omitempty"`
	Key                    string            `json:"key,omitempty"`
	HashAttribute          string            `json:"hashAttribute,omitempty"`
	FallbackAttribute      string            `json:"fallbackAttribute,omitempty"`
	HashVersion            int               `json:"hashVersion,omitempty"`
	Range                  *Range            `json:"range,omitempty"`
	Coverage               *float64          `json:"coverage,omitempty"`
	Namespace              *Namespace        `json:"namespace,omitempty"`
	Ranges                 []Range           `json:"ranges,omitempty"`
	Meta                   []VariationMeta   `json:"meta,omitempty"`
	Filters                []Filter          `json:"filters,omitempty"`
	Seed                   string            `json:"seed,omitempty"`
	Name                   string            `json:"name,omitempty"`
	Phase                  string            `json:"phase,omitempty"`
	DisableStickyBucketing bool              `json:"disableStickyBucketing,omitempty"`
	BucketVersion          int               `json:"bucketVersion,omitempty"`
	MinBucketVersion       int               `json:"minBucketVersion,omitempty"`
	ContextualVariations   []json.RawMessage `json:"contextualVariations,omitempty"`
	ContextualBanditRef    string            `json:"contextualBanditRef,omitempty"`

	cond Condition
	exp  *Experiment // experiment rules, compiled
}

// Layer is a set of mutually exclusive experiments. An experiment in layer L
// with layerRange [a, b) is evaluated as if it had namespace [L, a, b): the
// unit's namespace hash Hash("__"+L, unit, 1) must fall into [a, b). Ranges
// of experiments in one layer must not overlap, so a unit is in at most one
// of them. GrowthBook SDKs see the same thing as a namespace.
type Layer struct {
	Key  string `json:"key"`
	Name string `json:"name,omitempty"`
}

// Holdout keeps a share of units out of every experiment it covers. A unit
// is held out when Hash(Seed or Key, unit, HashVersion or 2) < Coverage,
// hashing the attribute HashAttribute (default "id"). Held-out units get
// variation 0 (control) with InExperiment false and Reason "holdout"; in
// features the covered experiment rule is skipped.
type Holdout struct {
	Key           string  `json:"key"`
	Seed          string  `json:"seed,omitempty"`
	HashAttribute string  `json:"hashAttribute,omitempty"`
	HashVersion   int     `json:"hashVersion,omitempty"`
	Coverage      float64 `json:"coverage"`
	// Experiments lists the covered experiment keys (experiment rules use
	// their key, or the feature key). Empty covers every experiment.
	Experiments []string `json:"experiments,omitempty"`
}

// ContextualBandit is a GrowthBook contextual bandit definition.
type ContextualBandit struct {
	BanditVersion *int            `json:"banditVersion,omitempty"`
	Contexts      json.RawMessage `json:"contexts,omitempty"`
}

type compiledExp struct {
	cond     Condition
	ranges   []Range
	keys     []string
	seed     string
	seedFNV  uint32 // FNV-1a state after the seed bytes (version 2 hashes seed first)
	version  int
	ns       *Namespace
	active   bool
	holdouts []*Holdout
	bandit   *BanditResult
	// plain is set when none of the experiment's rarely used settings
	// applies (see finish): run can take its short sequence.
	plain bool
	// assigned holds each variation's Result for a unit hashed into it,
	// all but the unit's hash attribute, value and bucket (assignedResult).
	assigned []Result
}

// hash returns the unit's hash for value: Hash(seed, value, version),
// resuming after the seed for version 2. ok is false for a version other
// than 1 or 2 (lax specs).
func (c *compiledExp) hash(value string) (n float64, ok bool) {
	if c.version == 2 {
		return hashV2Second(fnvAdd(c.seedFNV, value)), true
	}
	return Hash(c.seed, value, c.version)
}

// finish completes c once experiment e is compiled (a layer's namespace
// and a bandit included). It sets c.plain when e is active and not stopped,
// has at least two variations and no more ranges than variations, hashes
// with version 1 or 2, and has no holdout, filter, namespace, prerequisite
// or forced variation: run then leaves all those checks out. And it fills
// c.assigned.
func (c *compiledExp) finish(e *Experiment) {
	c.assigned = make([]Result, len(e.Variations))
	for i := range c.assigned {
		r := &c.assigned[i]
		*r = Result{Experiment: e.Key, VariationIndex: i, VariantKey: c.keys[i], Value: e.Variations[i],
			InExperiment: true, HashUsed: true, Reason: ReasonAssigned, Bandit: c.bandit}
		if i < len(e.Meta) {
			r.VariantName = e.Meta[i].Name
			r.Passthrough = e.Meta[i].Passthrough
		}
	}
	c.plain = c.active && e.Status != "stopped" && len(e.Variations) >= 2 &&
		len(c.ranges) <= len(e.Variations) && (c.version == 1 || c.version == 2) &&
		len(c.holdouts) == 0 && len(e.Filters) == 0 && c.ns == nil &&
		len(e.ParentConditions) == 0 && e.Force == nil
}

// FieldError is a validation error naming the JSON field, e.g.
// "experiments[2].weights: must sum to 1".
type FieldError struct {
	Field string
	Msg   string
	Err   error
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Err != nil {
		return e.Field + ": " + e.Err.Error()
	}
	return e.Field + ": " + e.Msg
}

// Unwrap returns the underlying error (a *ConditionError for conditions).
func (e *FieldError) Unwrap() error { return e.Err }

// ErrUnknownExperiment is returned by Run for a key not in the Spec.
var ErrUnknownExperiment = errors.New("assign: unknown experiment")

// DecodeSpec decodes and validates a Spec and compiles its conditions.
// Errors name the offending field. Unknown JSON fields are ignored.
func DecodeSpec(data []byte) (*Spec, error) { return decodeSpec(data, false) }

// DecodeSpecLax decodes a Spec with GrowthBook SDK leniency: only malformed
// JSON is an error; bad weights fall back to equal weights, unknown condition
// operators evaluate to false, and so on, exactly as GrowthBook SDKs behave.
// Use it for payloads produced by GrowthBook; use DecodeSpec for our own.
func DecodeSpecLax(data []byte) (*Spec, error) { return decodeSpec(data, true) }

func decodeSpec(data []byte, lax bool) (*Spec, error) {
	var s Spec
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&s); err != nil {
		return nil, fmt.Errorf("assign: decode spec: %w", err)
	}
	if d.More() {
		return nil, errors.New("assign: decode spec: trailing data after JSON object")
	}
	if err := s.compile(lax); err != nil {
		return nil, err
	}
	return &s, nil
}

// Compile validates a Spec built in Go (strictly, like DecodeSpec) and
// prepares it for evaluation. It must be called once before use.
func (s *Spec) Compile() error { return s.compile(false) }

// CompileLax is Compile with DecodeSpecLax's leniency.
func (s *Spec) CompileLax() error { return s.compile(true) }

func fe(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func validFrac(f float64) bool { return f >= 0 && f <= 1 && !math.IsNaN(f) }

func checkRanges(field string, rs []Range) error {
	for i, r := range rs {
		if !validFrac(r.Start) || !validFrac(r.End) || r.Start > r.End {
			return fe(fmt.Sprintf("%s[%d]", field, i), "must satisfy 0 <= start <= end <= 1")
		}
	}
	return nil
}

func checkHashVersion(field string, v int) error {
	if v < 0 || v > 2 {
		return fe(field, "must be 1 or 2")
	}
	return nil
}

func checkFilters(field string, fs []Filter) error {
	for i, f := range fs {
		p := fmt.Sprintf("%s[%d]", field, i)
		if err := checkHashVersion(p+".hashVersion", f.HashVersion); err != nil {
			return err
		}
		if len(f.Ranges) == 0 {
			return fe(p+".ranges", "must not be empty")
		}
		if err := checkRanges(p+".ranges", f.Ranges); err != nil {
			return err
		}
	}
	return nil
}

func compileCond(field string, raw json.RawMessage, lax bool) (Condition, error) {
	c, err := parseCondition(raw, lax)
	if err != nil {
		return Condition{}, &FieldError{Field: field, Err: err}
	}
	return c, nil
}

func compileParents(field string, ps []ParentCondition, lax bool) error {
	for i := range ps {
		p := fmt.Sprintf("%s[%d]", field, i)
		if ps[i].ID == "" && !lax {
			return fe(p+".id", "required")
		}
		c, err := compileCond(p+".condition", ps[i].Condition, lax)
		if err != nil {
			return err
		}
		ps[i].cond = c
	}
	return nil
}

func (s *Spec) compile(lax bool) error {
	s.byKey = make(map[string]int, len(s.Experiments))
	layers := map[string]bool{}
	for i, l := range s.Layers {
		p := fmt.Sprintf("layers[%d].key", i)
		if l.Key == "" && !lax {
			return fe(p, "required")
		}
		if layers[l.Key] && !lax {
			return fe(p, "duplicate layer %q", l.Key)
		}
		layers[l.Key] = true
	}
	holdoutKeys := map[string]bool{}
	for i := range s.Holdouts {
		h := &s.Holdouts[i]
		p := fmt.Sprintf("holdouts[%d]", i)
		if !lax {
			if h.Key == "" {
				return fe(p+".key", "required")
			}
			if holdoutKeys[h.Key] {
				return fe(p+".key", "duplicate holdout %q", h.Key)
			}
			if !validFrac(h.Coverage) {
				return fe(p+".coverage", "must be between 0 and 1")
			}
			if err := checkHashVersion(p+".hashVersion", h.HashVersion); err != nil {
				return err
			}
		}
		holdoutKeys[h.Key] = true
	}
	type slot struct {
		r   Range
		idx int
	}
	layerSlots := map[string][]slot{}
	for i := range s.Experiments {
		e := &s.Experiments[i]
		p := fmt.Sprintf("experiments[%d]", i)
		if !lax {
			if e.Key == "" {
				return fe(p+".key", "required")
			}
			if _, dup := s.byKey[e.Key]; dup {
				return fe(p+".key", "duplicate experiment %q", e.Key)
			}
			if len(e.Meta) != len(e.Variations) {
				return fe(p+".meta", "must have one entry per variation (%d), each with a key", len(e.Variations))
			}
			seen := map[string]bool{}
			for j, m := range e.Meta {
				if m.Key == "" {
					return fe(fmt.Sprintf("%s.meta[%d].key", p, j), "required")
				}
				if seen[m.Key] {
					return fe(fmt.Sprintf("%s.meta[%d].key", p, j), "duplicate variant key %q", m.Key)
				}
				seen[m.Key] = true
			}
		}
		if _, dup := s.byKey[e.Key]; !dup {
			s.byKey[e.Key] = i
		}
		if err := s.compileExperiment(p, e, lax); err != nil {
			return err
		}
		if e.Layer != "" {
			if !lax {
				if !layers[e.Layer] {
					return fe(p+".layer", "unknown layer %q", e.Layer)
				}
				if e.Namespace != nil {
					return fe(p+".layer", "cannot be combined with namespace")
				}
				if e.LayerRange == nil {
					return fe(p+".layerRange", "required with layer")
				}
				if err := checkRanges(p+".layerRange", []Range{*e.LayerRange}); err != nil {
					return err
				}
				for _, o := range layerSlots[e.Layer] {
					if e.LayerRange.Start < o.r.End && o.r.Start < e.LayerRange.End {
						return fe(p+".layerRange", "overlaps experiments[%d] in layer %q", o.idx, e.Layer)
					}
				}
			}
			if e.LayerRange != nil {
				layerSlots[e.Layer] = append(layerSlots[e.Layer], slot{*e.LayerRange, i})
				e.c.ns = &Namespace{ID: e.Layer, Start: e.LayerRange.Start, End: e.LayerRange.End}
			}
		}
		e.c.finish(e)
	}
	for _, key := range sortedFeatureKeys(s.Features) {
		f := s.Features[key]
		p := "features[" + strconv.Quote(key) + "]"
		if key == "" && !lax {
			return fe(p, "feature key must not be empty")
		}
		if !lax && len(f.DefaultValue) > 0 && !json.Valid(f.DefaultValue) {
			return fe(p+".defaultValue", "invalid JSON")
		}
		if !lax && len(f.Metadata) > 0 && string(f.Metadata) != "null" {
			var m map[string]json.RawMessage
			if json.Unmarshal(f.Metadata, &m) != nil {
				return fe(p+".metadata", "must be a JSON object")
			}
		}
		if !lax && f.DefaultVariant != "" && f.Variants != nil {
			if _, ok := f.Variants[f.DefaultVariant]; !ok {
				return fe(p+".defaultVariant", "unknown variant %q", f.DefaultVariant)
			}
		}
		for i := range f.Rules {
			r := &f.Rules[i]
			rp := fmt.Sprintf("%s.rules[%d]", p, i)
			c, err := compileCond(rp+".condition", r.Condition, lax)
			if err != nil {
				return err
			}
			r.cond = c
			if err := compileParents(rp+".parentConditions", r.ParentConditions, lax); err != nil {
				return err
			}
			if !lax {
				if err := checkFilters(rp+".filters", r.Filters); err != nil {
					return err
				}
				if err := checkHashVersion(rp+".hashVersion", r.HashVersion); err != nil {
					return err
				}
			}
			if len(r.Force) > 0 {
				if !lax {
					if r.Coverage != nil && !validFrac(*r.Coverage) {
						return fe(rp+".coverage", "must be between 0 and 1")
					}
					if r.Range != nil {
						if err := checkRanges(rp+".range", []Range{*r.Range}); err != nil {
							return err
						}
					}
				}
				continue
			}
			vars := r.Variations
			var bandit *BanditResult
			if len(vars) == 0 && r.ContextualVariations != nil {
				vars = r.ContextualVariations
				bandit = &BanditResult{LeafID: -1}
				if cb, ok := s.ContextualBandits[r.ContextualBanditRef]; ok {
					bandit.BanditVersion = cb.BanditVersion
				} else if !lax {
					return fe(rp+".contextualBanditRef", "unknown contextual bandit %q", r.ContextualBanditRef)
				}
			}
			if len(vars) == 0 {
				continue
			}
			e := &Experiment{
				Key: r.Key, Name: r.Name, Variations: vars, Meta: r.Meta, Weights: r.Weights,
				Coverage: r.Coverage, Ranges: r.Ranges, Condition: r.Condition,
				ParentConditions: r.ParentConditions, Namespace: r.Namespace, Filters: r.Filters,
				HashAttribute: r.HashAttribute, FallbackAttribute: r.FallbackAttribute,
				HashVersion: r.HashVersion, Seed: r.Seed, Phase: r.Phase,
				BucketVersion: r.BucketVersion, MinBucketVersion: r.MinBucketVersion,
				DisableStickyBucketing: r.DisableStickyBucketing,
			}
			if e.Key == "" {
				e.Key = key
			}
			if err := s.compileExperiment(rp, e, lax); err != nil {
				return err
			}
			if bandit != nil {
				bandit.VariationWeights = append([]float64(nil), normalizedWeights(len(vars), r.Weights)...)
				e.c.bandit = bandit
			}
			e.c.finish(e)
			r.exp = e
		}
	}
	if s.OptOuts != nil {
		if err := s.OptOuts.compile(); err != nil {
			return err
		}
	}
	s.compiled = true
	return nil
}

func normalizedWeights(n int, w []float64) []float64 {
	rs := BucketRanges(n, 1, w)
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.End - r.Start
	}
	if len(w) == n {
		sum := 0.0
		for _, x := range w {
			sum += x
		}
		if sum >= 0.99 && sum <= 1.01 {
			copy(out, w)
		}
	}
	return out
}

func sortedFeatureKeys(m map[string]Feature) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func (s *Spec) compileExperiment(p string, e *Experiment, lax bool) error {
	n := len(e.Variations)
	if !lax {
		if n < 2 {
			return fe(p+".variations", "must have at least 2 variations")
		}
		for j, v := range e.Variations {
			if !json.Valid(v) {
				return fe(fmt.Sprintf("%s.variations[%d]", p, j), "invalid JSON")
			}
		}
		if e.Meta != nil && len(e.Meta) != n {
			return fe(p+".meta", "must have one entry per variation (%d)", n)
		}
		if e.Weights != nil {
			if len(e.Weights) != n {
				return fe(p+".weights", "must have one weight per variation (%d)", n)
			}
			sum := 0.0
			for j, w := range e.Weights {
				if !validFrac(w) {
					return fe(fmt.Sprintf("%s.weights[%d]", p, j), "must be between 0 and 1")
				}
				sum += w
			}
			if !(sum >= 0.99 && sum <= 1.01) {
				return fe(p+".weights", "must sum to 1")
			}
		}
		if e.Coverage != nil && !validFrac(*e.Coverage) {
			return fe(p+".coverage", "must be between 0 and 1")
		}
		if e.Ranges != nil {
			if len(e.Ranges) != n {
				return fe(p+".ranges", "must have one range per variation (%d)", n)
			}
			if err := checkRanges(p+".ranges", e.Ranges); err != nil {
				return err
			}
		}
		if err := checkHashVersion(p+".hashVersion", e.HashVersion); err != nil {
			return err
		}
		if e.Namespace != nil {
			ns := e.Namespace
			if ns.ID == "" {
				return fe(p+".namespace", "id required")
			}
			if !validFrac(ns.Start) || !validFrac(ns.End) || ns.Start > ns.End {
				return fe(p+".namespace", "must satisfy 0 <= start <= end <= 1")
			}
		}
		if e.Force != nil && (*e.Force < 0 || *e.Force >= n) {
			return fe(p+".force", "must be a variation index in [0, %d)", n)
		}
		if err := checkFilters(p+".filters", e.Filters); err != nil {
			return err
		}
		switch e.Status {
		case "", "draft", "running", "stopped":
		default:
			return fe(p+".status", "must be draft, running or stopped")
		}
		if e.BucketVersion < 0 || e.MinBucketVersion < 0 {
			return fe(p+".bucketVersion", "must not be negative")
		}
	}
	cond, err := compileCond(p+".condition", e.Condition, lax)
	if err != nil {
		return err
	}
	if err := compileParents(p+".parentConditions", e.ParentConditions, lax); err != nil {
		return err
	}
	c := &compiledExp{cond: cond, seed: e.Seed, version: e.HashVersion, ns: e.Namespace}
	if c.seed == "" {
		c.seed = e.Key
	}
	if c.version == 0 {
		c.version = 1
	}
	c.seedFNV = fnvAdd(fnvOffset32, c.seed)
	c.active = (e.Active == nil || *e.Active) && e.Status != "draft"
	if e.Ranges != nil {
		c.ranges = e.Ranges
	} else {
		cov := 1.0
		if e.Coverage != nil {
			cov = *e.Coverage
		}
		c.ranges = BucketRanges(n, cov, e.Weights)
	}
	c.keys = make([]string, n)
	for j := range c.keys {
		c.keys[j] = strconv.Itoa(j)
		if j < len(e.Meta) && e.Meta[j].Key != "" {
			c.keys[j] = e.Meta[j].Key
		}
	}
	for i := range s.Holdouts {
		h := &s.Holdouts[i]
		if len(h.Experiments) == 0 {
			c.holdouts = append(c.holdouts, h)
			continue
		}
		for _, k := range h.Experiments {
			if k == e.Key {
				c.holdouts = append(c.holdouts, h)
				break
			}
		}
	}
	e.c = c
	return nil
}
