package experiments_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/promolift/promolift/experiments"
)

func validExperiment() *experiments.Experiment {
	e := &experiments.Experiment{
		Key:      "spring-sale",
		Coverage: 1,
		Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
		},
	}
	e.ApplyDefaults()
	return e
}

func TestExperimentValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(e *experiments.Experiment)
		wantField string
		wantCode  string
	}{
		{"valid", func(*experiments.Experiment) {}, "", ""},
		{"bad key", func(e *experiments.Experiment) { e.Key = "spring sale!" }, "key", "invalid_key"},
		{"weights do not sum to 1", func(e *experiments.Experiment) { e.Variants[1].Weight = 0.6 }, "variants", "weights_sum"},
		{"duplicate variant key", func(e *experiments.Experiment) { e.Variants[1].Key = "control" }, "variants[1].key", "duplicate_key"},
		{"coverage above 1", func(e *experiments.Experiment) { e.Coverage = 1.5 }, "coverage", "out_of_range"},
		{"negative coverage", func(e *experiments.Experiment) { e.Coverage = -0.1 }, "coverage", "out_of_range"},
		{"unknown promotion type", func(e *experiments.Experiment) { e.Variants[1].Promotion.Type = "half_price" }, "variants[1].promotion.type", "unknown_promotion_type"},
		{"percent over 100", func(e *experiments.Experiment) { e.Variants[1].Promotion.Value = 150 }, "variants[1].promotion.value", "out_of_range"},
		{"one variant", func(e *experiments.Experiment) { e.Variants = e.Variants[:1]; e.Variants[0].Weight = 1 }, "variants", "too_few_variants"},
		{"hash version 3", func(e *experiments.Experiment) { e.HashVersion = 3 }, "hash_version", "invalid_hash_version"},
		{"bad namespace", func(e *experiments.Experiment) { e.Namespace = &experiments.Namespace{ID: "ns", Start: 0.5, End: 0.4} }, "namespace.range", "out_of_range"},
		{"unknown currency", func(e *experiments.Experiment) { e.Variants[1].Promotion.Currency = "XXX" }, "variants[1].promotion.currency", "unknown_currency"},
		{"unknown engine", func(e *experiments.Experiment) { e.Engine = "magic" }, "engine", "invalid_engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validExperiment()
			tt.change(e)
			err := e.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, experiments.ErrInvalid) {
				t.Fatalf("Validate() = %v, want an invalid error", err)
			}
			var fe *experiments.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %T, want *experiments.Error inside", err)
			}
			if fe.Field != tt.wantField || fe.Code != tt.wantCode {
				t.Errorf("first error = %s/%s (%v), want %s/%s", fe.Field, fe.Code, err, tt.wantField, tt.wantCode)
			}
		})
	}
}

func TestStatusNext(t *testing.T) {
	legal := map[experiments.Status]map[experiments.Action]experiments.Status{
		experiments.StatusDraft:    {experiments.ActionStart: experiments.StatusRunning, experiments.ActionArchive: experiments.StatusArchived},
		experiments.StatusRunning:  {experiments.ActionPause: experiments.StatusPaused, experiments.ActionStop: experiments.StatusStopped},
		experiments.StatusPaused:   {experiments.ActionResume: experiments.StatusRunning, experiments.ActionStop: experiments.StatusStopped},
		experiments.StatusStopped:  {experiments.ActionArchive: experiments.StatusArchived},
		experiments.StatusArchived: {},
	}
	actions := []experiments.Action{experiments.ActionStart, experiments.ActionPause, experiments.ActionResume, experiments.ActionStop, experiments.ActionArchive}
	for from, allowed := range legal {
		for _, a := range actions {
			t.Run(string(from)+"/"+string(a), func(t *testing.T) {
				got, err := from.Next(a)
				want, ok := allowed[a]
				switch {
				case ok && (err != nil || got != want):
					t.Errorf("Next = %q, %v; want %q", got, err, want)
				case !ok && !errors.Is(err, experiments.ErrConflict):
					t.Errorf("Next = %q, %v; want a conflict", got, err)
				}
			})
		}
	}
	if _, err := experiments.StatusDraft.Next("explode"); !errors.Is(err, experiments.ErrInvalid) {
		t.Errorf("unknown action: %v, want invalid", err)
	}
}

func TestFlagValidate(t *testing.T) {
	half := 0.5
	tests := []struct {
		name      string
		flag      experiments.Flag
		wantField string
	}{
		{"valid", experiments.Flag{Key: "gate", Type: experiments.FlagBoolean, DefaultVariant: "off",
			Variants: map[string]json.RawMessage{"on": []byte("true"), "off": []byte("false")},
			Rules:    []experiments.FlagRule{{Variant: "on", Rollout: &half}}}, ""},
		{"value of the wrong type", experiments.Flag{Key: "gate", Type: experiments.FlagBoolean, DefaultVariant: "on",
			Variants: map[string]json.RawMessage{"on": []byte(`"yes"`)}}, "variants.on"},
		{"unknown default", experiments.Flag{Key: "gate", Type: experiments.FlagString, DefaultVariant: "x",
			Variants: map[string]json.RawMessage{"a": []byte(`"a"`)}}, "default_variant"},
		{"rule with unknown variant", experiments.Flag{Key: "gate", Type: experiments.FlagNumber, DefaultVariant: "a",
			Variants: map[string]json.RawMessage{"a": []byte(`1`)}, Rules: []experiments.FlagRule{{Variant: "b"}}}, "rules[0].variant"},
		{"unknown type", experiments.Flag{Key: "gate", Type: "date", DefaultVariant: "a",
			Variants: map[string]json.RawMessage{"a": []byte(`1`)}}, "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.flag.ApplyDefaults()
			err := tt.flag.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			var fe *experiments.Error
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Fatalf("Validate() = %v, want field %s", err, tt.wantField)
			}
		})
	}
}
