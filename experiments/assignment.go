package experiments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/promolift/promolift/assign"
)

// MaxAssignExperiments bounds the experiments named in one AssignRequest.
const MaxAssignExperiments = 100

// AssignRequest asks for one unit's variants.
type AssignRequest struct {
	// UnitID identifies the unit; it becomes the attribute "id" unless
	// Attributes already carry one.
	UnitID     string
	Attributes map[string]any
	// Experiments lists the experiment keys to assign; empty means every
	// running experiment in the caller's environment.
	Experiments []string
	// LogExposure stores an exposure for every in-experiment assignment.
	LogExposure bool
}

// AssignmentResult is one unit's assignment in one experiment. When
// InExperiment is false the unit gets control and no exposure is logged;
// Reason says why (see assign.Reason).
type AssignmentResult struct {
	Experiment    string
	Variant       string
	Value         json.RawMessage // the variant's flag value (or its key as a JSON string)
	InExperiment  bool
	Bucket        float64
	HashAttribute string
	HashValue     string
	Reason        string
}

// Assign assigns one unit to experiments with package assign on the
// cached SDK spec of the caller's environment (so it agrees with every SDK
// evaluating that spec) and, when asked, logs one exposure per
// in-experiment assignment. Exposure event IDs are deterministic per
// experiment, bucket version, unit, variant and UTC day (see ExposureID), so
// repeated calls on one day store one exposure. The customer's rights
// (consent, budgets, frequency caps; customers.go) turn an in-experiment
// assignment into the no-promotion answer with their reason.
func (s *Service) Assign(ctx context.Context, who Principal, req AssignRequest) ([]AssignmentResult, error) {
	if err := checkAttributeValues("attributes", req.Attributes); err != nil {
		return nil, err
	}
	attrs, err := unitAttributes(req.UnitID, req.Attributes)
	if err != nil {
		return nil, err
	}
	if len(req.Experiments) > MaxAssignExperiments {
		return nil, Invalid("experiments", "too_many", "at most %d experiments per request", MaxAssignExperiments)
	}
	snap, err := s.snapshot(ctx, who.Environment)
	if err != nil {
		return nil, err
	}
	keys := req.Experiments
	if len(keys) == 0 {
		keys = snap.running
	}
	for i, k := range keys {
		if snap.exps[k] == nil {
			return nil, Invalid(fmt.Sprintf("experiments[%d]", i), "unknown_experiment",
				"no running experiment %q in this environment", k)
		}
	}
	u := s.newUnitAssignment(snap, attrs, req.LogExposure)
	if err := u.prepare(ctx, runningOnly(snap, keys)); err != nil {
		return nil, err
	}
	out := make([]AssignmentResult, 0, len(keys))
	for _, k := range keys {
		res, err := u.run(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	if err := u.finish(ctx, who); err != nil {
		return nil, err
	}
	return out, nil
}

// runningOnly returns the running experiments of keys (keys itself when
// all are): a paused experiment named in an Assign request assigns nobody,
// so it needs no sticky docs or segments.
func runningOnly(snap *snapshot, keys []string) []string {
	for i, k := range keys {
		if snap.exps[k].Status != StatusRunning {
			out := slices.Clone(keys[:i])
			for _, k := range keys[i+1:] {
				if snap.exps[k].Status == StatusRunning {
					out = append(out, k)
				}
			}
			return out
		}
	}
	return keys
}

// unitAssignment is the assignment of one unit to experiments in one call:
// Assign, EvaluateFlag or EvaluateFlags. A unit gets the same answer for an
// experiment whichever way the app asks (the assign API, OFREP reading the
// experiment as a flag, or a flag whose rule delegates to the experiment):
// every call adds the unit's segment attributes and loads its sticky
// assignments for the experiments it may run (prepare), and every
// in-experiment result goes through the unit's rights (settle; rightsGuard:
// consent, budgets, frequency caps), so exposures counted toward a cap group
// accumulate across the experiments of the call.
type unitAssignment struct {
	s      *Service
	snap   *snapshot
	attrs  assign.Attributes
	now    time.Time
	rights *rightsGuard  // customers.go; nil without customer features
	segs   *segmentAttrs // segments.go; nil: none read
	sticky *stickyRun    // sticky.go; nil: no sticky bucketing
	// log: collect an exposure per in-experiment result into exposures
	// (once per event ID: exposed).
	log       bool
	exposures []Event
	exposed   map[string]bool
	// links: the units other than the customer that the call stores rows
	// keyed by without an exposure (sticky docs, capped units; links.go).
	links map[UnitLink]bool
}

// newUnitAssignment starts the assignment of the unit of attrs in one call;
// logExposures collects an exposure per in-experiment result.
func (s *Service) newUnitAssignment(snap *snapshot, attrs assign.Attributes, logExposures bool) *unitAssignment {
	now := s.now().UTC()
	return &unitAssignment{s: s, snap: snap, attrs: attrs, now: now, log: logExposures,
		rights: s.newRightsGuard(snap, attrs, now)}
}

// prepare readies the call for the experiments of keys (those it may
// run): it adds the unit's segment attributes when one of them targets or
// breaks down by a segment (segments.go) and loads the unit's sticky docs
// when one of them is sticky (sticky.go). Neither reads the store when no
// experiment of keys needs it.
func (u *unitAssignment) prepare(ctx context.Context, keys []string) error {
	u.segs = u.s.segmentAttributes(ctx, u.snap.exps, keys, u.attrs)
	sticky, err := u.s.loadSticky(ctx, u.snap, keys, u.attrs, u.rights)
	if err != nil {
		return err
	}
	u.sticky = sticky
	return nil
}

// run assigns the unit to experiment key (with its sticky docs if any) and
// settles the result.
func (u *unitAssignment) run(ctx context.Context, key string) (AssignmentResult, error) {
	u.segs.use(u.snap.exps[key].Environment)
	r, err := u.sticky.run(u.snap.spec, key, u.attrs)
	if err != nil {
		return AssignmentResult{}, fmt.Errorf("assign %q: %w", key, err)
	}
	return u.settle(ctx, u.snap.exps[key], r)
}

// settle applies the unit's rights to the result r of experiment e (run
// directly, or by a flag rule that delegates to it) and collects the
// exposure of a result still in the experiment.
func (u *unitAssignment) settle(ctx context.Context, e *Experiment, r assign.Result) (AssignmentResult, error) {
	res := resultOf(r)
	if err := u.rights.apply(ctx, e, &res); err != nil {
		return AssignmentResult{}, err
	}
	if res.InExperiment {
		u.expose(e, r)
	}
	return res, nil
}

// expose collects the exposure of the in-experiment result r of e, once
// per event ID (a bulk evaluation may reach an experiment twice: as a flag
// and through a flag rule).
func (u *unitAssignment) expose(e *Experiment, r assign.Result) {
	if !u.log {
		return
	}
	ev := exposureEvent(e, r, u.attrs, u.now)
	if u.exposed[ev.ID] {
		return
	}
	if u.exposed == nil {
		u.exposed = map[string]bool{}
	}
	u.exposed[ev.ID] = true
	u.exposures = append(u.exposures, ev)
}

// finish links the units the call stores rows by to the customer
// (links.go), stores the sticky docs the call changed and logs its
// exposures.
func (u *unitAssignment) finish(ctx context.Context, who Principal) error {
	fresh := u.s.exposures.fresh(u.exposures)
	for _, d := range u.sticky.changed() {
		u.addLink(d.AttributeName, d.AttributeValue)
	}
	if u.rights != nil {
		for _, c := range u.rights.cappedUnits {
			u.addLink(c.Attribute, c.UnitID)
		}
	}
	if err := u.storeLinks(ctx, fresh); err != nil {
		return err
	}
	if err := u.sticky.save(ctx); err != nil {
		return err
	}
	return u.s.logExposures(ctx, u.snap.exps, fresh)
}

func resultOf(r assign.Result) AssignmentResult {
	return AssignmentResult{
		Experiment:    r.Experiment,
		Variant:       r.VariantKey,
		Value:         r.Value,
		InExperiment:  r.InExperiment,
		Bucket:        r.Bucket,
		HashAttribute: r.HashAttribute,
		HashValue:     r.HashValue,
		Reason:        string(r.Reason),
	}
}

// unitAttributes validates the unit and returns the attributes to
// evaluate: a copy of attrs with "id" set to unitID unless present.
func unitAttributes(unitID string, attrs map[string]any) (assign.Attributes, error) {
	if len(unitID) > MaxUnitIDLen || !utf8.ValidString(unitID) {
		return nil, Invalid("unit_id", "invalid", "must be valid UTF-8 of at most %d bytes", MaxUnitIDLen)
	}
	out := make(assign.Attributes, len(attrs)+1)
	for k, v := range attrs {
		out[k] = v
	}
	if _, ok := out[DefaultUnitAttribute]; !ok && unitID != "" {
		out[DefaultUnitAttribute] = unitID
	}
	if unitID == "" {
		if _, ok := out[DefaultUnitAttribute]; !ok {
			return nil, Invalid("unit_id", "required", "is required (or send the attribute id)")
		}
	}
	return out, nil
}

// ExposureID is the deterministic event ID of the exposure of unit to
// variant of experiment at bucket version bucketVersion on the UTC day of
// at: the hex SHA-256 of "experiment|bucketVersion|unit|variant|YYYY-MM-DD".
func ExposureID(experiment string, bucketVersion int, unit, variant string, at time.Time) string {
	sum := sha256.Sum256([]byte(experiment + "|" + strconv.Itoa(bucketVersion) + "|" + unit + "|" +
		variant + "|" + at.UTC().Format(time.DateOnly)))
	return hex.EncodeToString(sum[:])
}

// exposureEvent is the exposure of an in-experiment result. The unit is the
// hashed value (the unit that was randomized); when that is not the
// customer (attribute "id"), the exposure links it to the customer
// (links.go). The scalar attributes the experiment keeps for breakdowns
// (Experiment.KeepsAttribute) that fit the event limits are stored;
// "channel" becomes the channel.
func exposureEvent(e *Experiment, r assign.Result, attrs assign.Attributes, now time.Time) Event {
	ev := Event{
		ID:         ExposureID(e.Key, e.BucketVersion, r.HashValue, r.VariantKey, now),
		Type:       EventExposure,
		UnitID:     r.HashValue,
		Timestamp:  now,
		Experiment: e.Key,
		Variant:    r.VariantKey,
	}
	if c := customerOf(attrs); c != r.HashValue {
		ev.CustomerID, ev.UnitAttribute = c, r.HashAttribute
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var s string
		switch v := attrs[k].(type) {
		case string:
			s = v
		case bool:
			s = strconv.FormatBool(v)
		case float64:
			s = strconv.FormatFloat(v, 'g', -1, 64)
		case int:
			s = strconv.Itoa(v)
		case int64:
			s = strconv.FormatInt(v, 10)
		default:
			continue
		}
		if k == "channel" {
			if len(s) <= MaxNameLen && utf8.ValidString(s) {
				ev.Channel = s
			}
			continue
		}
		if !e.KeepsAttribute(k) || k == r.HashAttribute || len(k)+len(s) > MaxAttributeLen ||
			!utf8.ValidString(k+s) || len(ev.Attributes) >= MaxAttributes {
			continue
		}
		if ev.Attributes == nil {
			ev.Attributes = map[string]string{}
		}
		ev.Attributes[k] = s
	}
	return ev
}

// logExposures stores exposures (of the experiments in exps, the
// snapshot's) by group commit (exposurebatch.go) and returns once the
// transaction holding them committed; the caller left out the exposures
// committed recently (exposureBatcher.fresh). Duplicates (the same unit,
// variant and day) are expected and change nothing. A rejected exposure is
// logged, not returned: the assignment itself stands. A store failure is a
// KindUnavailable error.
func (s *Service) logExposures(ctx context.Context, exps map[string]*Experiment, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.exposures.submit(ctx, exps, events)
}

// OpenFeature resolution reasons, as OFREP reports them.
const (
	ReasonStatic         = "STATIC"
	ReasonTargetingMatch = "TARGETING_MATCH"
	ReasonSplit          = "SPLIT"
	ReasonDefault        = "DEFAULT"
	ReasonDisabled       = "DISABLED"
	// ReasonOptedOutFlag is the reason of an evaluation that gave an
	// opted-out customer the no-promotion answer (a custom reason, as OFREP
	// allows): the same the SDKs answer evaluating locally (sdk
	// ReasonOptedOut), so a customer's reason does not depend on where the
	// flag was evaluated. The other rights (budget, frequency cap), which
	// only the server applies, answer DEFAULT.
	ReasonOptedOutFlag = "OPTED_OUT"
)

// rightsFlagReason is the flag reason of an answer that the unit's rights
// (reason, an AssignmentResult's) turned into the no-promotion answer.
func rightsFlagReason(reason string) string {
	if reason == ReasonOptedOut {
		return ReasonOptedOutFlag
	}
	return ReasonDefault
}

// ErrTargetingKeyMissing is the error (KindInvalid, code
// "targeting_key_missing") of a flag evaluation that needs a unit to hash
// and has none.
var ErrTargetingKeyMissing = &Error{Kind: KindInvalid, Code: "targeting_key_missing"}

// FlagEvaluation is the evaluation of one flag, or of a running experiment
// read as a flag, in OpenFeature's terms.
type FlagEvaluation struct {
	Key     string
	Value   json.RawMessage
	Variant string
	// Reason is an OpenFeature reason: STATIC, TARGETING_MATCH, SPLIT,
	// DEFAULT or DISABLED.
	Reason   string
	Metadata map[string]any // string, bool and number values only
	// Err is set (and the other fields are not) when this flag could not
	// be evaluated in a bulk evaluation.
	Err error
}

// EvaluateFlag evaluates the flag key for attrs in the caller's
// environment. A key that names no flag but a running (or paused)
// experiment evaluates the experiment as a string flag whose value is the
// assigned variant's key (or the variant's flag value), and an
// in-experiment assignment logs an exposure with the same event ID as
// Assign.
//
// The unit gets the answer Assign gives it for the experiment, read as a
// flag or reached through a flag rule that delegates to it: the unit's
// sticky assignments are loaded and saved, its segment attributes
// (rfm_segment, aipl_stage) are added for an experiment that uses them
// unless attrs carry them, and the customer's rights apply. A unit in the
// experiment that opted out of promotions, whose variant's budget is spent,
// or that reached the frequency cap of the experiment's cap group gets the
// control's value (for a flag rule, the flag's value of the control
// variant), reason DEFAULT (OPTED_OUT when opted out: rightsFlagReason),
// metadata in_experiment false and metadata reason (ReasonOptedOut, ReasonBudgetExhausted or ReasonFrequencyCapped),
// and no exposure. attrs are not modified.
//
// A KindNotFound error when neither exists; ErrTargetingKeyMissing when the
// evaluation needs the unit's hash attribute and attrs lack it.
func (s *Service) EvaluateFlag(ctx context.Context, who Principal, key string, attrs map[string]any) (*FlagEvaluation, error) {
	if err := checkAttributeValues("context", attrs); err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx, who.Environment)
	if err != nil {
		return nil, err
	}
	u := s.newUnitAssignment(snap, maps.Clone(attrs), true)
	if err := u.prepare(ctx, snap.experimentsOf(key)); err != nil {
		return nil, err
	}
	ev, err := u.evaluate(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := u.finish(ctx, who); err != nil {
		return nil, err
	}
	return ev, nil
}

// EvaluateFlags evaluates every flag and every running or paused experiment
// of the caller's environment (a flag wins over an experiment of the same
// key), in key order, and returns the spec ETag they were evaluated on.
// Keys are evaluated as by EvaluateFlag, within one call as one Assign call
// for all the experiments they run: the unit's sticky docs are loaded once
// and its segment attributes read at most once, and exposures count toward
// a cap group across the experiments in key order (an experiment reached
// twice, as a flag and through a flag rule, counts once and answers alike).
// Per-key failures (such as a missing targeting key) are in Err.
//
// A bulk evaluation is a prefetch (DESIGN.md §10): it logs no exposures.
// Apps report the exposure when the promotion is shown (an exposure event),
// or ask for it with EvaluateFlagsLogged.
func (s *Service) EvaluateFlags(ctx context.Context, who Principal, attrs map[string]any) ([]*FlagEvaluation, string, error) {
	return s.evaluateFlags(ctx, who, attrs, false)
}

// EvaluateFlagsLogged is EvaluateFlags logging the exposure of every
// in-experiment result, as EvaluateFlag does.
func (s *Service) EvaluateFlagsLogged(ctx context.Context, who Principal, attrs map[string]any) ([]*FlagEvaluation, string, error) {
	return s.evaluateFlags(ctx, who, attrs, true)
}

func (s *Service) evaluateFlags(ctx context.Context, who Principal, attrs map[string]any, logExposures bool) ([]*FlagEvaluation, string, error) {
	if err := checkAttributeValues("context", attrs); err != nil {
		return nil, "", err
	}
	snap, err := s.snapshot(ctx, who.Environment)
	if err != nil {
		return nil, "", err
	}
	keys := make([]string, 0, len(snap.flagKey)+len(snap.exps))
	keys = append(keys, snap.flagKey...)
	for k := range snap.exps {
		if snap.flags[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	u := s.newUnitAssignment(snap, maps.Clone(attrs), logExposures)
	if err := u.prepare(ctx, snap.experimentsOf(keys...)); err != nil {
		return nil, "", err
	}
	out := make([]*FlagEvaluation, 0, len(keys))
	for _, k := range keys {
		ev, err := u.evaluate(ctx, k)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				return nil, "", err
			}
			ev = &FlagEvaluation{Key: k, Err: err}
		}
		out = append(out, ev)
	}
	if err := u.finish(ctx, who); err != nil {
		return nil, "", err
	}
	return out, snap.etag, nil
}

// evaluate evaluates one flag, or one experiment read as a flag through
// run, so the unit's rights apply as in Assign: a result they turned into
// the no-promotion answer gets the control's value, reason DEFAULT (OPTED_OUT
// for an opted-out customer, rightsFlagReason) and
// metadata reason (the AssignmentResult's), and no exposure.
func (u *unitAssignment) evaluate(ctx context.Context, key string) (*FlagEvaluation, error) {
	if f := u.snap.flags[key]; f != nil {
		return u.evaluateFlag(ctx, f)
	}
	e := u.snap.exps[key]
	if e == nil {
		return nil, NotFound("flag", key)
	}
	if e.Status == StatusRunning && !hasHashAttribute(u.attrs, e) {
		return nil, targetingKeyMissing(key, e.UnitAttribute)
	}
	res, err := u.run(ctx, key)
	if err != nil {
		return nil, err
	}
	ev := &FlagEvaluation{Key: key, Value: res.Value, Variant: res.Variant,
		Metadata: map[string]any{"experiment": key, "in_experiment": res.InExperiment}}
	switch {
	case res.InExperiment:
		ev.Reason = ReasonSplit
	case rightsReason(res.Reason): // customers.go
		ev.Reason = rightsFlagReason(res.Reason)
		ev.Metadata["reason"] = res.Reason
	case e.Status == StatusPaused:
		ev.Reason = ReasonDisabled
	default:
		ev.Reason = ReasonDefault
	}
	return ev, nil
}

// evaluateFlag evaluates flag f from its feature in the served spec (the
// same fields the SDKs read: enabled, variants, defaultVariant,
// rules[].variant, metadata), so OFREP and the SDKs agree on values,
// variants and reasons. A rule that delegates to an experiment runs it
// with the unit's sticky docs and settles the result as run does, so the
// unit gets the variant Assign gives it; when the unit's rights hold the
// promotion back, the flag answers the flag's value of the control variant
// with reason DEFAULT (OPTED_OUT for an opted-out customer, as the SDKs),
// metadata in_experiment false and metadata reason.
func (u *unitAssignment) evaluateFlag(ctx context.Context, f *Flag) (*FlagEvaluation, error) {
	u.segs.use(f.Environment)
	snap, attrs := u.snap, u.attrs
	feat, ok := snap.spec.Features[f.Key]
	if !ok {
		return nil, NotFound("flag", f.Key)
	}
	ev := &FlagEvaluation{Key: f.Key, Metadata: featureMetadata(feat.Metadata)}
	if !feat.IsEnabled() {
		ev.Value, ev.Variant, ev.Reason = feat.DefaultValue, feat.DefaultVariant, ReasonDisabled
		return ev, nil
	}
	if len(feat.Rules) == 0 {
		ev.Value, ev.Variant, ev.Reason = feat.DefaultValue, feat.DefaultVariant, ReasonStatic
		return ev, nil
	}
	if attr, missing := feat.MissingHashAttribute(attrs); missing {
		return nil, targetingKeyMissing(f.Key, attr)
	}
	res := u.sticky.evalFeature(snap.spec, f.Key, attrs)
	ev.Value = res.Value
	switch res.Source {
	case assign.SourceForce:
		ev.Reason = ReasonTargetingMatch
		ev.Metadata["rule"] = res.RuleID
		for i := range feat.Rules {
			if r := &feat.Rules[i]; r.ID == res.RuleID {
				ev.Variant = r.Variant
				if r.Coverage != nil || r.Range != nil {
					ev.Reason = ReasonSplit
				}
				break
			}
		}
	case assign.SourceExperiment:
		ev.Reason = ReasonSplit
		ev.Metadata["rule"] = res.RuleID
		if r := res.ExperimentResult; r != nil {
			ev.Variant = r.VariantKey
			ev.Metadata["experiment"] = r.Experiment
			ev.Metadata["in_experiment"] = r.InExperiment
			if e := snap.exps[r.Experiment]; e != nil && r.InExperiment {
				ar, err := u.settle(ctx, e, *r)
				if err != nil {
					return nil, err
				}
				if rightsReason(ar.Reason) { // customers.go
					ev.Value, ev.Variant = ruleValue(res.Experiment, ar.Variant, ar.Value), ar.Variant
					ev.Reason = rightsFlagReason(ar.Reason)
					ev.Metadata["in_experiment"] = false
					ev.Metadata["reason"] = ar.Reason
				}
			}
		}
	default:
		ev.Reason = ReasonDefault
		ev.Variant = feat.DefaultVariant
	}
	if ev.Variant == "" {
		ev.Variant = variantOfValue(f, ev.Value)
	}
	return ev, nil
}

// experimentsOf returns the running experiments that evaluating keys
// (flags, or experiments read as flags) may run, each once: an experiment
// key itself and the experiments the rules of an enabled flag delegate to.
// Paused experiments are left out, as from an Assign call without keys:
// they assign nobody, so neither sticky docs nor segments change their
// answer.
func (snap *snapshot) experimentsOf(keys ...string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if e := snap.exps[k]; e != nil && e.Status == StatusRunning && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range keys {
		f := snap.flags[k]
		if f == nil {
			add(k)
			continue
		}
		if !f.Enabled {
			continue
		}
		for _, r := range f.Rules {
			if r.Experiment != "" {
				add(r.Experiment)
			}
		}
	}
	return out
}

// ruleValue is the value the experiment rule x serves for variant: the
// flag's value of that variant key (def when x has no such variant).
func ruleValue(x *assign.Experiment, variant string, def json.RawMessage) json.RawMessage {
	if x != nil {
		for i, m := range x.Meta {
			if m.Key == variant && i < len(x.Variations) {
				return x.Variations[i]
			}
		}
	}
	return def
}

// featureMetadata decodes a feature's metadata object into a fresh map
// (empty when there is none).
func featureMetadata(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
		if m == nil {
			m = map[string]any{}
		}
	}
	return m
}

// variantOfValue finds the variant of f whose value is v.
func variantOfValue(f *Flag, v json.RawMessage) string {
	want := compactJSON(v)
	for _, k := range f.VariantKeys() {
		if compactJSON(f.Variants[k]) == want {
			return k
		}
	}
	return ""
}

func compactJSON(v json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

func hasHashAttribute(attrs assign.Attributes, e *Experiment) bool {
	attr := e.UnitAttribute
	if attr == "" {
		attr = DefaultUnitAttribute
	}
	return hasAttr(attrs, attr) || e.FallbackAttribute != "" && hasAttr(attrs, e.FallbackAttribute)
}

func hasAttr(attrs assign.Attributes, name string) bool {
	switch v := attrs[name].(type) {
	case nil:
		return false
	case string:
		return v != ""
	}
	return true
}

func targetingKeyMissing(key, attr string) error {
	return &Error{Kind: KindInvalid, Code: ErrTargetingKeyMissing.Code, Field: "context.targetingKey",
		Message: fmt.Sprintf("%q needs a targeting key (the unit attribute %q) to assign the unit", key, attr)}
}
