package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/promolift/promolift/assign"
)

// Reason says why an Evaluation has its value (OpenFeature's reasons).
type Reason string

// The reasons.
const (
	ReasonStatic         Reason = "STATIC"          // a flag without rules: its default
	ReasonDefault        Reason = "DEFAULT"         // no rule matched: the flag's default (or control)
	ReasonTargetingMatch Reason = "TARGETING_MATCH" // a targeting rule matched
	ReasonSplit          Reason = "SPLIT"           // an experiment assignment or a percentage rollout
	ReasonDisabled       Reason = "DISABLED"        // the flag is disabled: use the caller's default
	ReasonError          Reason = "ERROR"           // see ErrorCode: use the caller's default
	// ReasonOptedOut: the customer withdrew promotion consent (the config's
	// opt-out list); the value is control, as POST /api/v1/assign answers.
	ReasonOptedOut Reason = "OPTED_OUT"
	// ReasonConsentUnknown: the config could not list every opt-out, so the
	// SDK gives control for experiments that can give a promotion; ask the
	// server (POST /api/v1/assign or OFREP) for these.
	ReasonConsentUnknown Reason = "CONSENT_UNKNOWN"
)

// ErrorCode says what went wrong when Reason is ReasonError (OpenFeature's codes).
type ErrorCode string

// The error codes.
const (
	ErrorNone                ErrorCode = ""
	ErrorProviderNotReady    ErrorCode = "PROVIDER_NOT_READY"
	ErrorFlagNotFound        ErrorCode = "FLAG_NOT_FOUND"
	ErrorTypeMismatch        ErrorCode = "TYPE_MISMATCH"
	ErrorTargetingKeyMissing ErrorCode = "TARGETING_KEY_MISSING"
	ErrorParse               ErrorCode = "PARSE_ERROR"
	ErrorGeneral             ErrorCode = "GENERAL"
)

// Evaluation is the result of evaluating a flag or an experiment for one unit.
// Value is nil when the caller's default applies (Reason ERROR or DISABLED,
// or a null flag value).
type Evaluation struct {
	Key          string
	Value        json.RawMessage // the value as JSON; shared, do not modify
	Variant      string          // variant key ("on", "ten_off")
	Reason       Reason
	ErrorCode    ErrorCode
	ErrorMessage string
	InExperiment bool
	Experiment   string         // experiment key when an experiment decided
	RuleID       string         // flag rule that matched
	Metadata     map[string]any // flag metadata; shared, do not modify
}

// Assignment is the outcome of Run: the unit's variant of an experiment.
type Assignment struct {
	Experiment   string
	Variant      string          // variant key; control's key when not in the experiment
	Value        json.RawMessage // the variant's value (its flag value or its key as a JSON string)
	InExperiment bool
	Reason       assign.Reason
	Err          error // ErrNotReady, assign.ErrUnknownExperiment
}

// snapshot is one config version with what the SDK derives from it.
type snapshot struct {
	spec    *assign.Spec
	etag    string
	meta    map[string]map[string]any // flag key → decoded metadata
	fetched time.Time
}

// decodeSnapshot decodes the config: an assign.Spec whose features carry
// the promolift flag fields (variants, defaultVariant, enabled, metadata,
// rules[].variant). Flag values are compacted so that variant names can be
// found by value.
func decodeSnapshot(body []byte, etag string) (*snapshot, error) {
	spec, err := assign.DecodeSpec(body)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{spec: spec, etag: etag, fetched: time.Now()}
	for key, f := range spec.Features {
		for k, v := range f.Variants {
			f.Variants[k] = compactJSON(v)
		}
		if len(f.Metadata) == 0 || string(f.Metadata) == "null" {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(f.Metadata))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			return nil, fmt.Errorf("sdk: config: features[%q].metadata: %w", key, err)
		}
		for k, v := range m {
			if n, ok := v.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					m[k] = i
				} else if x, err := n.Float64(); err == nil {
					m[k] = x
				}
			}
		}
		if snap.meta == nil {
			snap.meta = map[string]map[string]any{}
		}
		snap.meta[key] = m
	}
	if snap.etag == "" {
		snap.etag = spec.Version
	}
	return snap, nil
}

func compactJSON(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

// variantOf names the variant of f whose value is v.
func variantOf(f *assign.Feature, v json.RawMessage) string {
	if f.DefaultVariant != "" && bytes.Equal(f.Variants[f.DefaultVariant], v) {
		return f.DefaultVariant
	}
	best := ""
	for k, x := range f.Variants {
		if bytes.Equal(x, v) && (best == "" || k < best) {
			best = k
		}
	}
	if best == "" && len(v) > 0 && !bytes.Equal(v, compactJSON(v)) {
		return variantOf(f, compactJSON(v))
	}
	return best
}

// Run assigns the unit described by attrs to the experiment key and logs
// the exposure once per (unit, experiment, variant). It does not touch the
// network and does not allocate once the exposure is known.
func (c *Client) Run(experimentKey string, attrs assign.Attributes) Assignment {
	s := c.snap.Load()
	if s == nil {
		return Assignment{Experiment: experimentKey, Err: ErrNotReady}
	}
	r, err := s.spec.RunWith(&assign.Eval{Attributes: attrs, CheckConsent: true}, experimentKey)
	if err != nil {
		return Assignment{Experiment: experimentKey, Err: err}
	}
	if r.InExperiment {
		c.expose(&r, attrs)
	}
	return Assignment{
		Experiment:   experimentKey,
		Variant:      r.VariantKey,
		Value:        r.Value,
		InExperiment: r.InExperiment,
		Reason:       r.Reason,
	}
}

// Evaluate evaluates the flag key for attrs; a running experiment is also a
// flag of its own key whose value is the assigned variant's value. It logs
// an exposure when an experiment decided. It never touches the network.
func (c *Client) Evaluate(key string, attrs assign.Attributes) Evaluation {
	s := c.snap.Load()
	if s == nil {
		return Evaluation{Key: key, Reason: ReasonError, ErrorCode: ErrorProviderNotReady,
			ErrorMessage: "no config received from the server yet"}
	}
	if feat, ok := s.spec.Features[key]; ok {
		return c.evalFlag(s, key, &feat, attrs)
	}
	r, err := s.spec.RunWith(&assign.Eval{Attributes: attrs, CheckConsent: true}, key)
	if err != nil {
		return Evaluation{Key: key, Reason: ReasonError, ErrorCode: ErrorFlagNotFound,
			ErrorMessage: "no flag or experiment " + strconv.Quote(key)}
	}
	ev := Evaluation{Key: key, Value: r.Value, Variant: r.VariantKey, Experiment: r.Experiment,
		InExperiment: r.InExperiment, Reason: ReasonDefault}
	switch {
	case r.InExperiment:
		ev.Reason = ReasonSplit
		c.expose(&r, attrs)
	case r.Reason == assign.ReasonOptedOut:
		ev.Reason = ReasonOptedOut
	case r.Reason == assign.ReasonConsentUnknown:
		ev.Reason = ReasonConsentUnknown
	case r.Reason == assign.ReasonNoHashAttribute:
		return Evaluation{Key: key, Reason: ReasonError, ErrorCode: ErrorTargetingKeyMissing, Experiment: r.Experiment,
			ErrorMessage: "experiment " + strconv.Quote(key) + " needs the attribute " + strconv.Quote(r.HashAttribute) + " (the targeting key)"}
	}
	return ev
}

func (c *Client) evalFlag(s *snapshot, key string, feat *assign.Feature, attrs assign.Attributes) Evaluation {
	ev := Evaluation{Key: key, Metadata: s.meta[key]}
	if !feat.IsEnabled() {
		ev.Reason = ReasonDisabled
		return ev
	}
	if attr, missing := feat.MissingHashAttribute(attrs); missing {
		return Evaluation{Key: key, Reason: ReasonError, ErrorCode: ErrorTargetingKeyMissing, Metadata: ev.Metadata,
			ErrorMessage: "flag " + strconv.Quote(key) + " needs the attribute " + strconv.Quote(attr) + " (the targeting key)"}
	}
	fr := s.spec.EvalFeatureWith(&assign.Eval{Attributes: attrs, CheckConsent: true}, key)
	ev.Value = fr.Value
	ev.RuleID = fr.RuleID
	switch fr.Source {
	case assign.SourceExperiment:
		ev.Reason = ReasonSplit
		if r := fr.ExperimentResult; r != nil {
			ev.Variant = r.VariantKey
			ev.InExperiment = r.InExperiment
			ev.Experiment = r.Experiment
			switch {
			case r.InExperiment:
				c.expose(r, attrs)
			case r.Reason == assign.ReasonOptedOut: // as the server's OFREP answers
				ev.Reason = ReasonOptedOut
			case r.Reason == assign.ReasonConsentUnknown:
				ev.Reason = ReasonConsentUnknown
			}
		}
		return ev
	case assign.SourceForce:
		ev.Reason = ReasonTargetingMatch
		for i := range feat.Rules {
			if r := &feat.Rules[i]; r.ID == fr.RuleID {
				if r.Coverage != nil || r.Range != nil {
					ev.Reason = ReasonSplit
				}
				ev.Variant = r.Variant
				break
			}
		}
		if ev.Variant == "" {
			ev.Variant = variantOf(feat, fr.Value)
		}
	case assign.SourceDefaultValue:
		ev.Reason = ReasonDefault
		if len(feat.Rules) == 0 {
			ev.Reason = ReasonStatic
		}
		ev.Variant = feat.DefaultVariant
		if ev.Variant == "" {
			ev.Variant = variantOf(feat, fr.Value)
		}
	case assign.SourceCyclicPrerequisite:
		return Evaluation{Key: key, Reason: ReasonError, ErrorCode: ErrorGeneral, Metadata: ev.Metadata,
			ErrorMessage: "flag " + strconv.Quote(key) + " has cyclic prerequisites"}
	default: // prerequisite gate failed
		ev.Reason = ReasonDefault
	}
	if string(ev.Value) == "null" {
		ev.Value = nil
	}
	return ev
}

// BoolFlag returns the boolean flag key for attrs, or def when the flag is
// missing, disabled, not a boolean, or the client is not ready.
func (c *Client) BoolFlag(key string, def bool, attrs assign.Attributes) bool {
	ev := c.Evaluate(key, attrs)
	switch string(ev.Value) {
	case "true":
		return true
	case "false":
		return false
	}
	return def
}

// StringFlag returns the string flag key for attrs, or def (see BoolFlag).
func (c *Client) StringFlag(key, def string, attrs assign.Attributes) string {
	ev := c.Evaluate(key, attrs)
	var s string
	if len(ev.Value) == 0 || ev.Value[0] != '"' || json.Unmarshal(ev.Value, &s) != nil {
		return def
	}
	return s
}

// NumberFlag returns the numeric flag key for attrs, or def (see BoolFlag).
func (c *Client) NumberFlag(key string, def float64, attrs assign.Attributes) float64 {
	ev := c.Evaluate(key, attrs)
	if len(ev.Value) == 0 || !(ev.Value[0] == '-' || ev.Value[0] >= '0' && ev.Value[0] <= '9') {
		return def
	}
	f, err := strconv.ParseFloat(string(ev.Value), 64)
	if err != nil {
		return def
	}
	return f
}

// ObjectFlag decodes the flag key for attrs into a new value (map, slice,
// string, float64, bool), or returns def (see BoolFlag).
func (c *Client) ObjectFlag(key string, def any, attrs assign.Attributes) any {
	ev := c.Evaluate(key, attrs)
	var v any
	if len(ev.Value) == 0 || json.Unmarshal(ev.Value, &v) != nil {
		return def
	}
	return v
}
