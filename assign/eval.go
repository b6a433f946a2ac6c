package assign

import (
	"encoding/json"
	"math"
	"strconv"
)

// Reason says why a Result came out the way it did.
type Reason string

// Reasons reported in Result.Reason.
const (
	ReasonAssigned         Reason = "assigned"           // hashed into a variation
	ReasonSticky           Reason = "stickyBucket"       // variation from a sticky bucket doc
	ReasonForced           Reason = "forced"             // Eval.ForcedVariations
	ReasonForcedExperiment Reason = "forcedByExperiment" // Experiment.Force
	ReasonTooFewVariations Reason = "tooFewVariations"
	ReasonDisabled         Reason = "disabled" // Eval.Disabled
	ReasonInactive         Reason = "inactive" // active false, draft or stopped
	ReasonNoHashAttribute  Reason = "noHashAttribute"
	ReasonHoldout          Reason = "holdout"
	ReasonStickyBlocked    Reason = "stickyBucketBlocked" // sticky doc below minBucketVersion
	ReasonFiltered         Reason = "filtered"
	ReasonNamespace        Reason = "namespace" // namespace or layer slice
	ReasonCondition        Reason = "condition"
	ReasonPrerequisite     Reason = "prerequisite"
	ReasonInvalidHash      Reason = "invalidHashVersion"
	ReasonCoverage         Reason = "coverage"
	ReasonQAMode           Reason = "qaMode"
	ReasonConsentUnknown   Reason = "consentUnknown" // Eval.CheckConsent: Spec.OptOuts missing or incomplete
	ReasonOptedOut         Reason = "optedOut"       // Eval.CheckConsent: the unit is in Spec.OptOuts
)

// Result is the outcome of running one experiment for one unit. When
// InExperiment is false, VariationIndex is 0 and Value is variation 0's value
// (control), as in GrowthBook.
type Result struct {
	Experiment       string          // experiment key
	FeatureID        string          // feature key when run from a feature rule
	VariationIndex   int             // GrowthBook's variationId
	VariantKey       string          // meta key of the variation, or its index as a string
	VariantName      string          // meta name
	Value            json.RawMessage // the variation's value
	InExperiment     bool
	HashUsed         bool    // assignment came from hashing (not forced)
	HashAttribute    string  // attribute actually hashed (hashAttribute or fallbackAttribute)
	HashValue        string  // its value as hashed
	Bucket           float64 // the hash in [0,1); meaningful when HashUsed
	StickyBucketUsed bool
	Passthrough      bool
	Reason           Reason
	Bandit           *BanditResult // contextual bandit data, nil otherwise
}

// BanditResult carries contextual bandit attribution data.
type BanditResult struct {
	LeafID           int       `json:"leafId"`
	VariationWeights []float64 `json:"variationWeights"`
	BanditVersion    *int      `json:"banditVersion,omitempty"`
}

// Source says where a feature value came from.
type Source string

// Feature value sources (GrowthBook's names).
const (
	SourceUnknownFeature     Source = "unknownFeature"
	SourceDefaultValue       Source = "defaultValue"
	SourceForce              Source = "force"
	SourceExperiment         Source = "experiment"
	SourceCyclicPrerequisite Source = "cyclicPrerequisite"
	SourcePrerequisite       Source = "prerequisite"
)

// FeatureResult is a feature flag evaluation.
type FeatureResult struct {
	Value            json.RawMessage // never nil: JSON null when unset
	On               bool            // Value is JavaScript-truthy
	Off              bool            // !On
	Source           Source
	RuleID           string
	Experiment       *Experiment // the experiment rule that produced Value
	ExperimentResult *Result
}

// Eval holds everything about one evaluation besides the Spec: the unit's
// attributes and GrowthBook's context switches. The zero value of each field
// is the ordinary case.
type Eval struct {
	Attributes       Attributes
	ForcedVariations map[string]int // experiment key → variation index (QA)
	Disabled         bool           // GrowthBook enabled=false: nobody is in any experiment
	QAMode           bool           // only forced variations apply
	Sticky           StickyStore    // nil: no sticky bucketing
	// CheckConsent applies Spec.OptOuts to the experiments with Consent
	// set, for an evaluator that cannot read customers' consent itself: a
	// listed unit is not in them (ReasonOptedOut), and nobody is when the
	// list is missing or incomplete (ReasonConsentUnknown).
	CheckConsent bool
}

var nullJSON = json.RawMessage("null")

// Run assigns the unit with attrs to the experiment key. It does not
// allocate when the hash attribute is a string. The only error is
// ErrUnknownExperiment (or an uncompiled Spec).
func (s *Spec) Run(key string, attrs Attributes) (r Result, err error) {
	ev := Eval{Attributes: attrs}
	err = s.runKey(&ev, key, &r)
	return r, err
}

// RunWith is Run with forced variations, QA mode and sticky bucketing.
func (s *Spec) RunWith(ev *Eval, key string) (r Result, err error) {
	err = s.runKey(ev, key, &r)
	return r, err
}

func (s *Spec) runKey(ev *Eval, key string, r *Result) error {
	if s == nil || !s.compiled {
		return errNotCompiled
	}
	i := s.experimentIndex(key)
	if i < 0 {
		return ErrUnknownExperiment
	}
	s.run(ev, &s.Experiments[i], "", nil, r)
	return nil
}

var errNotCompiled = &FieldError{Field: "spec", Msg: "not compiled: use DecodeSpec or Spec.Compile"}

// EvalFeature evaluates the feature flag key for attrs.
func (s *Spec) EvalFeature(key string, attrs Attributes) FeatureResult {
	ev := Eval{Attributes: attrs}
	return s.EvalFeatureWith(&ev, key)
}

// EvalFeatureWith is EvalFeature with the other Eval switches.
func (s *Spec) EvalFeatureWith(ev *Eval, key string) FeatureResult {
	if s == nil || !s.compiled {
		return featureResult(nil, SourceUnknownFeature, "", nil, nil)
	}
	var st evalStack
	return s.evalFeature(ev, key, &st)
}

// evalStack tracks the features being evaluated, to detect prerequisite
// cycles. The common depths fit in the fixed array, so that evaluation does
// not allocate; deeper prerequisite chains spill into more.
type evalStack struct {
	arr  [8]string
	n    int
	more []string
}

func (st *evalStack) has(k string) bool {
	for _, x := range st.arr[:min(st.n, len(st.arr))] {
		if x == k {
			return true
		}
	}
	for _, x := range st.more {
		if x == k {
			return true
		}
	}
	return false
}

func (st *evalStack) push(k string) {
	if st.n < len(st.arr) {
		st.arr[st.n] = k
	} else {
		st.more = append(st.more, k)
	}
	st.n++
}

func (st *evalStack) pop() {
	st.n--
	if st.n >= len(st.arr) {
		st.more = st.more[:len(st.more)-1]
	}
}

func featureResult(v json.RawMessage, src Source, ruleID string, e *Experiment, r *Result) FeatureResult {
	if len(v) == 0 {
		v = nullJSON
	}
	on := jsonTruthy(v)
	return FeatureResult{Value: v, On: on, Off: !on, Source: src, RuleID: ruleID, Experiment: e, ExperimentResult: r}
}

func jsonTruthy(v json.RawMessage) bool {
	switch string(v) {
	case "null", "false", "0", `""`, "-0":
		return false
	}
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		f, err := strconv.ParseFloat(string(v), 64)
		return err != nil || f != 0
	}
	return true
}

func decodeValue(v json.RawMessage) any {
	var x any
	if len(v) == 0 || json.Unmarshal(v, &x) != nil {
		return nil
	}
	return x
}

func (s *Spec) evalFeature(ev *Eval, key string, st *evalStack) FeatureResult {
	if st.has(key) {
		return featureResult(nil, SourceCyclicPrerequisite, "", nil, nil)
	}
	f, ok := s.Features[key]
	if !ok {
		return featureResult(nil, SourceUnknownFeature, "", nil, nil)
	}
	st.push(key)
	defer st.pop()
rules:
	for i := range f.Rules {
		r := &f.Rules[i]
		for j := range r.ParentConditions {
			pc := &r.ParentConditions[j]
			pr := s.evalFeature(ev, pc.ID, st)
			if pr.Source == SourceCyclicPrerequisite {
				return featureResult(nil, SourceCyclicPrerequisite, "", nil, nil)
			}
			if !pc.cond.evalAny(map[string]any{"value": decodeValue(pr.Value)}, s.SavedGroups) {
				if pc.Gate {
					return featureResult(nil, SourcePrerequisite, "", nil, nil)
				}
				continue rules
			}
		}
		if len(r.Filters) > 0 && s.filteredOut(ev.Attributes, r.Filters) {
			continue
		}
		if len(r.Force) > 0 {
			if !r.cond.Eval(ev.Attributes, s.SavedGroups) {
				continue
			}
			if !s.inRollout(ev, key, r) {
				continue
			}
			return featureResult(r.Force, SourceForce, r.ID, nil, nil)
		}
		if r.exp == nil {
			continue
		}
		var res Result
		s.run(ev, r.exp, key, st, &res)
		if !res.InExperiment || res.Passthrough {
			continue
		}
		return featureResult(res.Value, SourceExperiment, r.ID, r.exp, &res)
	}
	return featureResult(f.DefaultValue, SourceDefaultValue, "", nil, nil)
}

func (s *Spec) inRollout(ev *Eval, featureKey string, r *Rule) bool {
	if r.Coverage == nil && r.Range == nil {
		return true
	}
	if r.Range == nil && *r.Coverage == 0 {
		return false
	}
	fallback := r.FallbackAttribute
	if r.DisableStickyBucketing {
		fallback = ""
	}
	_, hv, ok := hashAttr(ev.Attributes, r.HashAttribute, fallback)
	if !ok {
		return false
	}
	seed := r.Seed
	if seed == "" {
		seed = featureKey
	}
	v := r.HashVersion
	if v == 0 {
		v = 1
	}
	n, ok := Hash(seed, hv, v)
	if !ok {
		return false
	}
	if r.Range != nil {
		return r.Range.Contains(n)
	}
	return n <= *r.Coverage
}

// hashString converts an attribute value to the string that is hashed, as
// GrowthBook SDKs do: a non-empty string, or a finite non-zero number in
// JavaScript's decimal form. Anything else is unusable.
func hashString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case nil, bool:
		return "", false
	}
	f, ok := numberOf(v)
	if !ok || f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	return string(appendJSNumber(nil, f)), true
}

// hashAttr resolves the hash attribute (default "id") with an optional
// fallback attribute.
func hashAttr(attrs Attributes, attr, fallback string) (name, value string, ok bool) {
	if attr == "" {
		attr = "id"
	}
	v := attrs[attr]
	if str, ok := v.(string); ok && str != "" {
		return attr, str, true // the usual case, without hashString's type switch
	}
	if v, ok := hashString(v); ok {
		return attr, v, true
	}
	if fallback != "" {
		if v, ok := hashString(attrs[fallback]); ok {
			return fallback, v, true
		}
	}
	return attr, "", false
}

func (s *Spec) filteredOut(attrs Attributes, fs []Filter) bool {
	for i := range fs {
		f := &fs[i]
		_, hv, ok := hashAttr(attrs, f.Attribute, "")
		if !ok {
			return true
		}
		v := f.HashVersion
		if v == 0 {
			v = 2
		}
		n, ok := Hash(f.Seed, hv, v)
		if !ok || ChooseVariation(n, f.Ranges) < 0 {
			return true
		}
	}
	return false
}

func (s *Spec) heldOut(attrs Attributes, hs []*Holdout) bool {
	for _, h := range hs {
		if h.Coverage <= 0 {
			continue
		}
		_, hv, ok := hashAttr(attrs, h.HashAttribute, "")
		if !ok {
			continue
		}
		seed := h.Seed
		if seed == "" {
			seed = h.Key
		}
		v := h.HashVersion
		if v == 0 {
			v = 2
		}
		if n, ok := Hash(seed, hv, v); ok && n < h.Coverage {
			return true
		}
	}
	return false
}

func (s *Spec) result(r *Result, ev *Eval, e *Experiment, idx int, hashUsed bool, featureID string, bucket float64, sticky bool, reason Reason, h *hashed) {
	in := true
	if idx < 0 || idx >= len(e.Variations) {
		idx, in = 0, false
	}
	var ha, hv string
	if h != nil {
		ha, hv = h.attr, h.value
	} else {
		ha, hv, _ = hashAttr(ev.Attributes, e.HashAttribute, fallbackOf(e))
	}
	*r = Result{
		Experiment:       e.Key,
		FeatureID:        featureID,
		VariationIndex:   idx,
		InExperiment:     in,
		HashUsed:         hashUsed,
		HashAttribute:    ha,
		HashValue:        hv,
		StickyBucketUsed: sticky,
		Reason:           reason,
	}
	if hashUsed {
		r.Bucket = bucket
	}
	if idx < len(e.Variations) {
		r.Value = e.Variations[idx]
		r.VariantKey = e.c.keys[idx]
	}
	if idx < len(e.Meta) {
		r.VariantName = e.Meta[idx].Name
		r.Passthrough = e.Meta[idx].Passthrough
	}
	if e.c.bandit != nil && hashUsed && in && !sticky {
		r.Bandit = e.c.bandit
	}
}

// run assigns the unit of ev to experiment e, writing the outcome to out.
// featureID names the feature when e is a feature's experiment rule. st
// holds the features being evaluated, for prerequisite cycles; it may be nil
// (Run), and is then created when e has prerequisites.
func (s *Spec) run(ev *Eval, e *Experiment, featureID string, st *evalStack, out *Result) {
	c := e.c
	if !c.plain || !ev.plainFor(e) {
		s.runFull(ev, e, featureID, st, out)
		return
	}
	// A plain experiment under a plain evaluation: with none of the other
	// checks applying, the unit is out of the experiment only for a missing
	// hash attribute, a failed condition or a hash outside every variation's
	// range. The result is runFull's (TestPlainRunMatchesFull).
	attr, value, ok := hashAttr(ev.Attributes, e.HashAttribute, fallbackOf(e))
	if !ok {
		s.result(out, ev, e, -1, false, featureID, 0, false, ReasonNoHashAttribute, nil)
		return
	}
	h := hashed{attr, value}
	if !c.cond.Eval(ev.Attributes, s.SavedGroups) {
		s.result(out, ev, e, -1, false, featureID, 0, false, ReasonCondition, &h)
		return
	}
	n, _ := c.hash(value) // plain: the version is 1 or 2
	i := ChooseVariation(n, c.ranges)
	if i < 0 {
		s.result(out, ev, e, -1, false, featureID, 0, false, ReasonCoverage, &h)
		return
	}
	assignedResult(out, e, featureID, i, &h, n, false)
}

// runFull is run's full sequence of checks, in GrowthBook's order.
func (s *Spec) runFull(ev *Eval, e *Experiment, featureID string, st *evalStack, out *Result) {
	c := e.c
	var h *hashed
	notIn := func(reason Reason) {
		s.result(out, ev, e, -1, false, featureID, 0, false, reason, h)
	}
	if len(e.Variations) < 2 {
		notIn(ReasonTooFewVariations)
		return
	}
	if ev.Disabled {
		notIn(ReasonDisabled)
		return
	}
	if ev.CheckConsent && e.Consent {
		if reason, ok := s.consent(ev.Attributes); !ok {
			notIn(reason)
			return
		}
	}
	if v, ok := ev.ForcedVariations[e.Key]; ok {
		s.result(out, ev, e, v, false, featureID, 0, false, ReasonForced, nil)
		return
	}
	if !c.active || (e.Status == "stopped" && e.Force == nil) {
		notIn(ReasonInactive)
		return
	}
	hashAttribute, hashValue, ok := hashAttr(ev.Attributes, e.HashAttribute, fallbackOf(e))
	if !ok {
		notIn(ReasonNoHashAttribute)
		return
	}
	hv := hashed{hashAttribute, hashValue}
	h = &hv
	if len(c.holdouts) > 0 && s.heldOut(ev.Attributes, c.holdouts) {
		notIn(ReasonHoldout)
		return
	}
	useSticky := ev.Sticky != nil && !e.DisableStickyBucketing
	assigned, found := -1, false
	if useSticky {
		var blocked bool
		assigned, blocked = s.stickyVariation(ev, e, hashAttribute, hashValue)
		if blocked {
			s.result(out, ev, e, -1, false, featureID, 0, true, ReasonStickyBlocked, h)
			return
		}
		found = assigned >= 0
	}
	if !found {
		if len(e.Filters) > 0 {
			if s.filteredOut(ev.Attributes, e.Filters) {
				notIn(ReasonFiltered)
				return
			}
		} else if c.ns != nil && !inNamespaceHash(hashNamespace(c.ns.ID, hashValue), *c.ns) {
			notIn(ReasonNamespace)
			return
		}
		if !c.cond.Eval(ev.Attributes, s.SavedGroups) {
			notIn(ReasonCondition)
			return
		}
		if len(e.ParentConditions) > 0 && st == nil {
			st = new(evalStack) // Run without a feature: the stack starts here
		}
		for j := range e.ParentConditions {
			pc := &e.ParentConditions[j]
			pr := s.evalFeature(ev, pc.ID, st)
			if pr.Source == SourceCyclicPrerequisite ||
				!pc.cond.evalAny(map[string]any{"value": decodeValue(pr.Value)}, s.SavedGroups) {
				notIn(ReasonPrerequisite)
				return
			}
		}
	}
	n, ok := c.hash(hashValue)
	if !ok {
		notIn(ReasonInvalidHash)
		return
	}
	if !found {
		assigned = ChooseVariation(n, c.ranges)
	}
	if assigned < 0 {
		notIn(ReasonCoverage)
		return
	}
	if assigned >= len(e.Variations) {
		// Lax specs may carry more ranges than variations.
		s.result(out, ev, e, assigned, true, featureID, n, found, ReasonCoverage, h)
		return
	}
	if e.Force != nil {
		s.result(out, ev, e, *e.Force, false, featureID, 0, false, ReasonForcedExperiment, h)
		return
	}
	if ev.QAMode {
		notIn(ReasonQAMode)
		return
	}
	assignedResult(out, e, featureID, assigned, h, n, found)
	if useSticky {
		saveSticky(ev.Sticky, e, hashAttribute, hashValue, out.VariantKey)
	}
}

// plainFor reports whether ev switches on nothing that run checks for
// experiment e: not disabled, no consent check, no forced variations, no
// sticky bucketing, no QA mode.
func (ev *Eval) plainFor(e *Experiment) bool {
	return !ev.Disabled && !(ev.CheckConsent && e.Consent) && len(ev.ForcedVariations) == 0 &&
		(ev.Sticky == nil || e.DisableStickyBucketing) && !ev.QAMode
}

// assignedResult is s.result for a hashed assignment to variation i (a valid
// index), sticky or not: a copy of the variation's precomputed result
// (compiledExp.assigned) with the unit's hash attribute, value and bucket.
func assignedResult(out *Result, e *Experiment, featureID string, i int, h *hashed, n float64, sticky bool) {
	*out = e.c.assigned[i]
	out.FeatureID = featureID
	out.HashAttribute = h.attr
	out.HashValue = h.value
	out.Bucket = n
	if sticky {
		out.StickyBucketUsed = true
		out.Reason = ReasonSticky
		out.Bandit = nil
	}
}

type hashed struct{ attr, value string }

// fallbackOf returns the experiment's fallback attribute, unless sticky
// bucketing is disabled for it (GrowthBook ties the two together).
func fallbackOf(e *Experiment) string {
	if e.DisableStickyBucketing {
		return ""
	}
	return e.FallbackAttribute
}

// experimentIndex finds an experiment: a linear scan beats hashing the key
// for small specs.
func (s *Spec) experimentIndex(key string) int {
	if len(s.Experiments) <= 8 {
		for i := range s.Experiments {
			if s.Experiments[i].Key == key {
				return i
			}
		}
		return -1
	}
	if i, ok := s.byKey[key]; ok {
		return i
	}
	return -1
}
