package experiments_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
)

var specSDK = experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}

func TestAssignMatchesSpec(t *testing.T) {
	svc := specService(t)
	ctx := context.Background()
	a := specExperiment("spring-sale", "")
	b := specExperiment("free-ship", "")
	b.Variants = append(b.Variants, experiments.Variant{Key: "ship", Weight: 0.2, Promotion: experiments.Promotion{Type: experiments.PromoFreeShipping}})
	b.Variants[0].Weight, b.Variants[1].Weight = 0.4, 0.4
	b.Coverage = 0.8
	b.HashVersion = 1
	startExperiment(t, svc, a)
	startExperiment(t, svc, b)
	spec, _, err := svc.SDKSpec(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		id := fmt.Sprintf("u%d", i)
		got, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: id})
		if err != nil {
			t.Fatalf("Assign(%s): %v", id, err)
		}
		if len(got) != 2 {
			t.Fatalf("Assign(%s) gave %d results, want 2 (all running)", id, len(got))
		}
		for _, r := range got {
			want, _ := spec.Run(r.Experiment, assign.Attributes{"id": id})
			if r.Variant != want.VariantKey || r.InExperiment != want.InExperiment || r.Bucket != want.Bucket ||
				r.HashAttribute != "id" || r.HashValue != id {
				t.Fatalf("unit %s, %s: Assign %+v, spec %+v", id, r.Experiment, r, want)
			}
		}
	}
}

func TestAssignExposuresOncePerUnitAndDay(t *testing.T) {
	svc := specService(t)
	ctx := context.Background()
	day := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := day
	svc.SetClock(func() time.Time { return now })
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	units := 50
	assignAll := func(log bool) {
		for i := range units {
			if _, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: fmt.Sprintf("u%d", i),
				Experiments: []string{"spring-sale"}, LogExposure: log}); err != nil {
				t.Fatal(err)
			}
		}
	}
	exposures := func() (units, events int64) {
		st, err := svc.SufficientStats(ctx, experiments.StatsQuery{Experiment: "spring-sale"})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range st.Variants {
			units += v.Units
			events += v.Exposures
		}
		return
	}
	steps := []struct {
		name       string
		at         time.Time
		log        bool
		wantEvents int64
	}{
		{"first call logs one exposure per unit", day, true, int64(units)},
		{"same day again: duplicates", day.Add(5 * time.Hour), true, int64(units)},
		{"no logging when told not to", day.Add(30 * time.Hour), false, int64(units)},
		{"next day: one more per unit", day.Add(26 * time.Hour), true, 2 * int64(units)},
	}
	for _, s := range steps {
		now = s.at
		assignAll(s.log)
		u, ev := exposures()
		if u != int64(units) || ev != s.wantEvents {
			t.Errorf("%s: %d units, %d exposures; want %d units, %d exposures", s.name, u, ev, units, s.wantEvents)
		}
	}
	id1 := experiments.ExposureID("spring-sale", 1, "u1", "ten_off", day)
	id2 := experiments.ExposureID("spring-sale", 1, "u1", "ten_off", day.Add(3*time.Hour))
	id3 := experiments.ExposureID("spring-sale", 2, "u1", "ten_off", day)
	if id1 != id2 || id1 == id3 || len(id1) != 64 {
		t.Errorf("ExposureID: same day %q %q, other bucket version %q", id1, id2, id3)
	}
}

func TestAssignErrors(t *testing.T) {
	svc := specService(t)
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	draft := specExperiment("draft", "")
	if err := svc.CreateExperiment(context.Background(), specAdmin, draft); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		req       experiments.AssignRequest
		who       experiments.Principal
		wantField string
	}{
		{"unknown key", experiments.AssignRequest{UnitID: "u1", Experiments: []string{"spring-sale", "nope"}}, specSDK, "experiments[1]"},
		{"draft is unknown", experiments.AssignRequest{UnitID: "u1", Experiments: []string{"draft"}}, specSDK, "experiments[0]"},
		{"other environment", experiments.AssignRequest{UnitID: "u1", Experiments: []string{"spring-sale"}},
			experiments.Principal{Scope: experiments.ScopeSDK, Environment: "staging"}, "experiments[0]"},
		{"no unit", experiments.AssignRequest{}, specSDK, "unit_id"},
		{"unit too long", experiments.AssignRequest{UnitID: string(make([]byte, 300))}, specSDK, "unit_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Assign(context.Background(), tt.who, tt.req)
			var de *experiments.Error
			if !errors.Is(err, experiments.ErrInvalid) || !errors.As(err, &de) || de.Field != tt.wantField {
				t.Fatalf("Assign = %v, want an invalid error on %s", err, tt.wantField)
			}
		})
	}
	// Attributes carrying id need no unit_id.
	res, err := svc.Assign(context.Background(), specSDK, experiments.AssignRequest{Attributes: map[string]any{"id": "u7"}})
	if err != nil || len(res) != 1 || res[0].HashValue != "u7" {
		t.Fatalf("Assign with attribute id = %+v, %v", res, err)
	}
}

func TestEvaluateFlag(t *testing.T) {
	svc := specService(t)
	ctx := context.Background()
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	paused := specExperiment("paused-sale", "")
	startExperiment(t, svc, paused)
	if _, err := svc.Transition(ctx, specAdmin, "paused-sale", experiments.ActionPause); err != nil {
		t.Fatal(err)
	}
	targeted := specExperiment("kr-sale", "")
	targeted.Condition = json.RawMessage(`{"country": "KR"}`)
	startExperiment(t, svc, targeted)
	bools := map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)}
	for _, f := range []*experiments.Flag{
		{Key: "static", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "on", Enabled: true},
		{Key: "off-flag", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off", Enabled: false,
			Rules: []experiments.FlagRule{{Variant: "on"}}},
		{Key: "gate", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off", Enabled: true,
			Rules: []experiments.FlagRule{{Condition: json.RawMessage(`{"tier": "gold"}`), Variant: "on"}}},
		{Key: "everyone-rollout", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off", Enabled: true,
			Rules: []experiments.FlagRule{{Rollout: ptr(0.999999), Variant: "on"}}},
		{Key: "promo", Type: experiments.FlagString, DefaultVariant: "control", Enabled: true,
			Variants: map[string]json.RawMessage{"control": json.RawMessage(`"none"`), "ten_off": json.RawMessage(`"10%"`)},
			Rules:    []experiments.FlagRule{{Experiment: "spring-sale"}}},
	} {
		if err := svc.CreateFlag(ctx, specAdmin, f); err != nil {
			t.Fatalf("CreateFlag(%s): %v", f.Key, err)
		}
	}
	spec, _, _ := svc.SDKSpec(ctx, "")
	u1 := map[string]any{"id": "u1", "tier": "gold"}
	wantSale, _ := spec.Run("spring-sale", assign.Attributes(u1))
	tests := []struct {
		name        string
		key         string
		attrs       map[string]any
		wantReason  string
		wantVariant string
		wantValue   string
		wantCode    string // error code
		wantKind    experiments.Kind
	}{
		{"static", "static", map[string]any{}, experiments.ReasonStatic, "on", "true", "", 0},
		{"disabled", "off-flag", u1, experiments.ReasonDisabled, "off", "false", "", 0},
		{"targeting match", "gate", u1, experiments.ReasonTargetingMatch, "on", "true", "", 0},
		{"default", "gate", map[string]any{"tier": "silver"}, experiments.ReasonDefault, "off", "false", "", 0},
		{"rollout split", "everyone-rollout", u1, experiments.ReasonSplit, "on", "true", "", 0},
		{"rollout without key", "everyone-rollout", map[string]any{}, "", "", "", "targeting_key_missing", experiments.KindInvalid},
		{"experiment rule split", "promo", u1, experiments.ReasonSplit, wantSale.VariantKey, map[string]string{"control": `"none"`, "ten_off": `"10%"`}[wantSale.VariantKey], "", 0},
		{"experiment as flag", "spring-sale", u1, experiments.ReasonSplit, wantSale.VariantKey, `"` + wantSale.VariantKey + `"`, "", 0},
		{"paused experiment", "paused-sale", u1, experiments.ReasonDisabled, "control", `"control"`, "", 0},
		{"experiment condition fails", "kr-sale", map[string]any{"id": "u1", "country": "JP"}, experiments.ReasonDefault, "control", `"control"`, "", 0},
		{"experiment without key", "spring-sale", map[string]any{}, "", "", "", "targeting_key_missing", experiments.KindInvalid},
		{"unknown", "nope", u1, "", "", "", "flag_not_found", experiments.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := svc.EvaluateFlag(ctx, specSDK, tt.key, tt.attrs)
			if tt.wantCode != "" {
				var de *experiments.Error
				if !errors.As(err, &de) || de.Code != tt.wantCode || de.Kind != tt.wantKind {
					t.Fatalf("EvaluateFlag = %+v, %v; want error %s", ev, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Reason != tt.wantReason || ev.Variant != tt.wantVariant || string(ev.Value) != tt.wantValue {
				t.Errorf("got reason %s variant %s value %s; want %s %s %s", ev.Reason, ev.Variant, ev.Value,
					tt.wantReason, tt.wantVariant, tt.wantValue)
			}
		})
	}
	// The experiment evaluated through flags logged its exposure once
	// (the "promo" rule and the experiment-as-flag share the event id).
	st, err := svc.SufficientStats(ctx, experiments.StatsQuery{Experiment: "spring-sale"})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, v := range st.Variants {
		n += v.Exposures
	}
	if n != 1 {
		t.Errorf("spring-sale has %d exposures after flag evaluations of u1, want 1", n)
	}
	evs, etag, err := svc.EvaluateFlags(ctx, specSDK, map[string]any{})
	if err != nil || etag == "" {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ev := range evs {
		if ev.Err != nil {
			got[ev.Key] = "error"
		} else {
			got[ev.Key] = ev.Reason
		}
	}
	want := map[string]string{"static": "STATIC", "off-flag": "DISABLED", "gate": "DEFAULT", "everyone-rollout": "error",
		"promo": "error", "spring-sale": "error", "paused-sale": "DISABLED", "kr-sale": "error"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bulk without targeting key:\n got %v\nwant %v", got, want)
	}
}

// An OpenFeature context's targetingKey is the unit's ID, not an attribute
// to analyse by: the exposure of an OFREP evaluation keeps the context's
// attributes the experiment breaks down by, but not targetingKey (as
// Assign's keeps no id), nor an attribute it does not declare (an email).
func TestEvaluateFlagExposureAttributes(t *testing.T) {
	svc := specService(t)
	ctx := context.Background()
	e := specExperiment("spring-sale", "")
	e.Segments = []string{"country", experiments.TargetingKeyAttribute}
	startExperiment(t, svc, e)
	if _, err := svc.EvaluateFlag(ctx, specSDK, "spring-sale", map[string]any{
		experiments.TargetingKeyAttribute: "cust-1", "id": "cust-1", "country": "KR", "email": "cust-1@example.test"}); err != nil {
		t.Fatal(err)
	}
	for dim, want := range map[string]string{"country": "KR", experiments.TargetingKeyAttribute: "(none)", "email": "(none)"} {
		ss, err := svc.Store().SufficientStats(ctx, experiments.StatsQuery{Experiment: "spring-sale", Dimension: dim,
			MultipleExposure: experiments.MultipleFirst})
		if err != nil {
			t.Fatal(err)
		}
		if len(ss.Variants) != 1 || ss.Variants[0].Slice != want || ss.Variants[0].Units != 1 {
			t.Errorf("exposures by %s: %+v, want the one unit in slice %q", dim, ss.Variants, want)
		}
	}
}
