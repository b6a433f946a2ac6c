package experiments

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// FlagType is the type of a flag's values.
type FlagType string

// The flag types.
const (
	FlagBoolean FlagType = "boolean"
	FlagString  FlagType = "string"
	FlagNumber  FlagType = "number"
	FlagObject  FlagType = "object"
)

// Flag is a feature flag with typed variants, such as a promotion gate.
// Rules are tried in order; the first that matches decides. With no
// matching rule, or when the flag is disabled, the default variant is served.
type Flag struct {
	Key            string
	Description    string
	Environment    string
	Type           FlagType
	Variants       map[string]json.RawMessage
	DefaultVariant string
	Enabled        bool
	Rules          []FlagRule
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Revision       int64
}

// FlagRule is one rule of a flag. It applies to units matching Condition
// (all units when empty). Exactly one of Variant (a force rule, with
// Rollout < 1 a percentage rollout of that variant) or Experiment (the
// variant is the one the unit is assigned in that running experiment, whose
// variant keys must be variants of the flag) is set.
type FlagRule struct {
	ID         string
	Condition  json.RawMessage
	Variant    string
	Rollout    *float64 // share of matching units that get Variant; nil = all
	Experiment string
	// Seed for the rollout hash; default the flag key.
	Seed string
}

// VariantKeys returns the flag's variant keys in sorted order.
func (f *Flag) VariantKeys() []string {
	keys := make([]string, 0, len(f.Variants))
	for k := range f.Variants {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ApplyDefaults fills the fields left empty with their defaults.
func (f *Flag) ApplyDefaults() {
	if f.Environment == "" {
		f.Environment = DefaultEnvironment
	}
	for i := range f.Rules {
		if f.Rules[i].ID == "" {
			f.Rules[i].ID = fmt.Sprintf("rule-%d", i+1)
		}
	}
}

// Validate checks the flag and returns every problem found, each naming
// its field.
func (f *Flag) Validate() error {
	var errs ValidationErrors
	if !ValidKey(f.Key) {
		errs.add("key", "invalid_key", "must be 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit")
	}
	if f.Environment != "" && !ValidKey(f.Environment) {
		errs.add("environment", "invalid_key", "must be a key such as production or staging")
	}
	switch f.Type {
	case FlagBoolean, FlagString, FlagNumber, FlagObject:
	default:
		errs.add("type", "unknown_flag_type", "must be boolean, string, number or object")
	}
	if len(f.Variants) == 0 {
		errs.add("variants", "required", "a flag needs at least one variant")
	}
	if len(f.Variants) > 100 {
		errs.add("variants", "too_many_variants", "a flag has at most 100 variants")
	}
	for _, k := range f.VariantKeys() {
		field := "variants." + k
		if !ValidKey(k) {
			errs.add(field, "invalid_key", "variant keys must be letters, digits, '_', '-' or '.'")
			continue
		}
		if msg := checkFlagValue(f.Type, f.Variants[k]); msg != "" {
			errs.add(field, "type_mismatch", "%s", msg)
		}
	}
	if _, ok := f.Variants[f.DefaultVariant]; !ok {
		errs.add("default_variant", "unknown_variant", "must name one of the variants")
	}
	for i, r := range f.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.Variant != "" && r.Experiment != "":
			errs.add(field, "ambiguous_rule", "set either variant or experiment, not both")
		case r.Variant == "" && r.Experiment == "":
			errs.add(field, "empty_rule", "set variant or experiment")
		case r.Variant != "":
			if _, ok := f.Variants[r.Variant]; !ok {
				errs.add(field+".variant", "unknown_variant", "unknown variant %q", r.Variant)
			}
		case !ValidKey(r.Experiment):
			errs.add(field+".experiment", "invalid_key", "must be an experiment key")
		}
		if r.Rollout != nil && (math.IsNaN(*r.Rollout) || *r.Rollout < 0 || *r.Rollout > 1) {
			errs.add(field+".rollout", "out_of_range", "must be between 0 and 1")
		}
		if len(r.Condition) > 0 && !json.Valid(r.Condition) {
			errs.add(field+".condition", "invalid_json", "must be a JSON object")
		}
	}
	return errs.Err()
}

// checkFlagValue returns why raw is not a value of type t, or "".
func checkFlagValue(t FlagType, raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "must be a JSON value"
	}
	ok := false
	switch t {
	case FlagBoolean:
		_, ok = v.(bool)
	case FlagString:
		_, ok = v.(string)
	case FlagNumber:
		_, ok = v.(float64)
	case FlagObject:
		_, ok = v.(map[string]any)
		if !ok {
			_, ok = v.([]any)
		}
	default:
		return ""
	}
	if !ok {
		return fmt.Sprintf("must be a %s value", t)
	}
	return ""
}
