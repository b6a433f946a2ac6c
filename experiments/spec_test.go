package experiments_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// specService returns a Service over a fresh SQLite file.
func specService(t *testing.T) *experiments.Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return experiments.NewService(st, nil)
}

var specAdmin = experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}

// specExperiment is a two-variant experiment in status.
func specExperiment(key string, status experiments.Status) *experiments.Experiment {
	e := &experiments.Experiment{
		Key: key, Status: status, Coverage: 1, UnitAttribute: "id", Seed: key, HashVersion: 2, BucketVersion: 1,
		Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
		},
	}
	return e
}

// startExperiment creates and starts e through svc.
func startExperiment(t *testing.T, svc *experiments.Service, e *experiments.Experiment) {
	t.Helper()
	ctx := context.Background()
	if err := svc.CreateExperiment(ctx, specAdmin, e); err != nil {
		t.Fatalf("CreateExperiment(%s): %v", e.Key, err)
	}
	if _, err := svc.Transition(ctx, specAdmin, e.Key, experiments.ActionStart); err != nil {
		t.Fatalf("start %s: %v", e.Key, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestBuildSpec(t *testing.T) {
	withValue := specExperiment("valued", experiments.StatusRunning)
	withValue.Variants[1].FlagValue = json.RawMessage(`{"percent": 10}`)
	withValue.Condition = json.RawMessage(`{"country": {"$in": ["KR"]}}`)
	withValue.FallbackAttribute = "device_id"
	withValue.BucketVersion, withValue.MinBucketVersion = 3, 2
	layered := specExperiment("layered", experiments.StatusRunning)
	layered.Layer = "checkout"
	layered.Namespace = &experiments.Namespace{ID: "ignored", Start: 0.2, End: 0.6}
	spaced := specExperiment("spaced", experiments.StatusRunning)
	spaced.Namespace = &experiments.Namespace{ID: "ns", Start: 0, End: 0.5}
	exps := []*experiments.Experiment{
		specExperiment("running", experiments.StatusRunning),
		specExperiment("paused", experiments.StatusPaused),
		specExperiment("draft", experiments.StatusDraft),
		specExperiment("stopped", experiments.StatusStopped),
		withValue, layered, spaced,
	}
	bools := map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)}
	flags := []*experiments.Flag{
		{Key: "disabled", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off", Enabled: false,
			Rules: []experiments.FlagRule{{ID: "r1", Variant: "on"}}},
		{Key: "gate", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off", Enabled: true,
			Rules: []experiments.FlagRule{
				{ID: "gold", Condition: json.RawMessage(`{"tier": "gold"}`), Variant: "on"},
				{ID: "quarter", Rollout: ptr(0.25), Variant: "on"},
			}},
		{Key: "promo", Type: experiments.FlagString, DefaultVariant: "control", Enabled: true,
			Variants: map[string]json.RawMessage{"control": json.RawMessage(`"none"`), "ten_off": json.RawMessage(`"10%"`)},
			Rules: []experiments.FlagRule{
				{ID: "via-paused", Experiment: "paused"},
				{ID: "via-running", Condition: json.RawMessage(`{"tier": "gold"}`), Experiment: "running"},
			}},
	}
	spec, err := experiments.BuildSpec(exps, flags)
	if err != nil {
		t.Fatalf("BuildSpec: %v", err)
	}
	byKey := map[string]assign.Experiment{}
	var order []string
	for _, x := range spec.Experiments {
		byKey[x.Key] = x
		order = append(order, x.Key)
	}
	if got, want := len(order), 5; got != want {
		t.Fatalf("experiments %v, want %d (running and paused only)", order, want)
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("experiments not sorted by key: %v", order)
		}
	}
	tests := []struct {
		name  string
		check func() bool
	}{
		{"running is active with defaults", func() bool {
			x := byKey["running"]
			return x.Active == nil && x.HashAttribute == "id" && x.HashVersion == 2 && x.Seed == "running" &&
				*x.Coverage == 1 && len(x.Weights) == 2 && x.Meta[1].Key == "ten_off" && string(x.Variations[1]) == `"ten_off"`
		}},
		{"paused is inactive", func() bool { x := byKey["paused"]; return x.Active != nil && !*x.Active }},
		{"flag value and condition", func() bool {
			x := byKey["valued"]
			return string(x.Variations[1]) == `{"percent":10}` && string(x.Condition) == `{"country":{"$in":["KR"]}}` &&
				x.FallbackAttribute == "device_id" && x.BucketVersion == 3 && x.MinBucketVersion == 2
		}},
		{"layer", func() bool {
			x := byKey["layered"]
			return x.Layer == "checkout" && x.LayerRange != nil && x.LayerRange.Start == 0.2 && x.LayerRange.End == 0.6 &&
				len(spec.Layers) == 1 && spec.Layers[0].Key == "checkout"
		}},
		{"namespace", func() bool {
			x := byKey["spaced"]
			return x.Namespace != nil && x.Namespace.ID == "ns" && x.Namespace.End == 0.5
		}},
		{"disabled flag serves its default", func() bool {
			f := spec.Features["disabled"]
			return string(f.DefaultValue) == "false" && len(f.Rules) == 0
		}},
		{"force and rollout rules", func() bool {
			r := spec.Features["gate"].Rules
			return len(r) == 2 && string(r[0].Force) == "true" && string(r[0].Condition) == `{"tier":"gold"}` &&
				r[0].Coverage == nil && *r[1].Coverage == 0.25 && r[1].Seed == "gate" && r[1].HashAttribute == "id"
		}},
		{"experiment rule: paused skipped, running mapped", func() bool {
			r := spec.Features["promo"].Rules
			return len(r) == 1 && r[0].ID == "via-running" && r[0].Key == "running" && r[0].Seed == "running" &&
				string(r[0].Variations[1]) == `"10%"` && string(r[0].Condition) == `{"tier":"gold"}`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.check() {
				t.Errorf("spec does not satisfy %q", tt.name)
			}
		})
	}
	// The built spec round-trips through the wire format.
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := assign.DecodeSpec(b)
	if err != nil {
		t.Fatalf("DecodeSpec(BuildSpec JSON): %v", err)
	}
	for _, id := range []string{"a", "b", "c", "u42"} {
		want, _ := spec.Run("running", assign.Attributes{"id": id})
		got, _ := decoded.Run("running", assign.Attributes{"id": id})
		if want.VariantKey != got.VariantKey {
			t.Errorf("unit %s: decoded spec gives %s, built spec %s", id, got.VariantKey, want.VariantKey)
		}
	}
	// A paused experiment gives control to everyone.
	if r, _ := spec.Run("paused", assign.Attributes{"id": "u1"}); r.InExperiment || r.VariantKey != "control" {
		t.Errorf("paused: got %+v, want control, not in experiment", r)
	}
}

func TestBuildSpecErrors(t *testing.T) {
	a := specExperiment("a", experiments.StatusRunning)
	a.Layer = "l"
	b := specExperiment("b", experiments.StatusRunning)
	b.Layer = "l"
	tests := []struct {
		name      string
		exps      []*experiments.Experiment
		wantField string
	}{
		{"overlapping layer ranges", []*experiments.Experiment{a, b}, "experiment:b"},
		{"duplicate key", []*experiments.Experiment{specExperiment("x", experiments.StatusRunning), specExperiment("x", experiments.StatusRunning)}, "experiments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := experiments.BuildSpec(tt.exps, nil)
			var de *experiments.Error
			if !errors.As(err, &de) || de.Field != tt.wantField {
				t.Fatalf("BuildSpec error = %v, want a field error on %s", err, tt.wantField)
			}
		})
	}
}

func TestConditionChecker(t *testing.T) {
	svc := specService(t)
	e := specExperiment("bad-cond", "")
	e.Condition = json.RawMessage(`{"country": {"$nope": 1}}`)
	err := svc.CreateExperiment(context.Background(), specAdmin, e)
	var de *experiments.Error
	if !errors.As(err, &de) || de.Field != "condition" || de.Code != "invalid_condition" {
		t.Fatalf("CreateExperiment with an unknown operator = %v, want invalid_condition on condition", err)
	}
}

func TestSDKSpecCacheETagAndSubscribe(t *testing.T) {
	svc := specService(t)
	ctx := context.Background()
	startExperiment(t, svc, specExperiment("spring-sale", ""))

	s1, etag1, err := svc.SDKSpec(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	s2, etag2, _ := svc.SDKSpec(ctx, "")
	if etag1 == "" || etag1 != etag2 || s1 != s2 {
		t.Fatalf("unchanged spec: etags %q %q (same object %v), want one cached spec", etag1, etag2, s1 == s2)
	}
	if s1.Version != etag1 {
		t.Errorf("spec version %q, want the etag %q", s1.Version, etag1)
	}
	body, etag3, _ := svc.SDKConfig(ctx, "")
	if etag3 != etag1 {
		t.Errorf("SDKConfig etag %q, want %q", etag3, etag1)
	}
	if _, err := assign.DecodeSpec(body); err != nil {
		t.Errorf("SDKConfig JSON does not decode: %v", err)
	}
	_, envTag, _ := svc.SDKSpec(ctx, "staging")
	if envTag == etag1 {
		t.Errorf("staging (empty) has the production etag")
	}

	ch, cancel := svc.Subscribe()
	defer cancel()
	if _, err := svc.Transition(ctx, specAdmin, "spring-sale", experiments.ActionPause); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		_, etag4, _ := svc.SDKSpec(ctx, "")
		if got != etag4 || got == etag1 {
			t.Errorf("notified %q, want the new etag %q (old %q)", got, etag4, etag1)
		}
	case <-time.After(time.Second):
		t.Fatal("no notification within 1 s of a change")
	}
	cancel()
	if _, ok := <-ch; ok {
		t.Error("channel still open after cancel")
	}
}

func TestSDKSpecLeavesOutUnservableExperiment(t *testing.T) {
	svc := specService(t)
	a := specExperiment("a-layered", "")
	a.Layer = "checkout"
	b := specExperiment("b-layered", "")
	b.Layer = "checkout" // the whole layer again: overlaps a-layered
	startExperiment(t, svc, a)
	startExperiment(t, svc, b)
	spec, _, err := svc.SDKSpec(context.Background(), "")
	if err != nil {
		t.Fatalf("SDKSpec: %v", err)
	}
	if len(spec.Experiments) != 1 || spec.Experiments[0].Key != "a-layered" {
		t.Fatalf("experiments %+v, want a-layered only", spec.Experiments)
	}
	_, err = svc.Assign(context.Background(), specAdmin, experiments.AssignRequest{UnitID: "u1", Experiments: []string{"b-layered"}})
	if !errors.Is(err, experiments.ErrInvalid) {
		t.Fatalf("Assign(b-layered) = %v, want unknown_experiment", err)
	}
}

// TestLiveExperiment: the report read path's lookup answers a draft from
// the store, a running experiment from the assignment snapshot, and a
// change made through the Service (a pause, a stop) at once.
func TestLiveExperiment(t *testing.T) {
	ctx := context.Background()
	svc := specService(t)
	if err := svc.CreateExperiment(ctx, specAdmin, specExperiment("promo", experiments.StatusDraft)); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		action experiments.Action
		want   experiments.Status
	}{
		{"draft", "", experiments.StatusDraft},
		{"started", experiments.ActionStart, experiments.StatusRunning},
		{"paused", experiments.ActionPause, experiments.StatusPaused},
		{"stopped", experiments.ActionStop, experiments.StatusStopped},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var want *experiments.Experiment
			if st.action != "" {
				var err error
				if want, err = svc.Transition(ctx, specAdmin, "promo", st.action); err != nil {
					t.Fatal(err)
				}
			}
			got, err := svc.LiveExperiment(ctx, "promo")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != st.want || (want != nil && got.Revision != want.Revision) {
				t.Fatalf("LiveExperiment = %s revision %d; want %s revision %v", got.Status, got.Revision, st.want, want)
			}
		})
	}
	if _, err := svc.LiveExperiment(ctx, "missing"); !errors.Is(err, experiments.ErrNotFound) {
		t.Fatalf("LiveExperiment(missing) = %v, want not found", err)
	}
}
