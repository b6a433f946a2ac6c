package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
)

// A unit gets the same variant of an experiment whichever way the app asks:
// Assign, the OpenFeature evaluation of the experiment (single or bulk), or
// a flag whose rule delegates to it. These cases run the same history on
// two fresh stores, ask one through Assign and the other through one
// OpenFeature path, and compare the answers and what each store kept.

// The OpenFeature paths compared with Assign.
var parityPaths = []string{"single", "bulk", "flag"}

// paritySDK is the principal of the parity cases.
var paritySDK = experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}

// parityService returns a Service over s at now running exp, with the
// string flag exp.Key+"-flag" whose only rule delegates to exp.
func parityService(t *testing.T, s experiments.Store, exp *experiments.Experiment, now time.Time) *experiments.Service {
	t.Helper()
	svc := experiments.NewService(s, nil)
	svc.SetClock(func() time.Time { return now })
	admin := experiments.Principal{KeyID: "admin", Scope: experiments.ScopeAdmin}
	e := *exp
	e.Variants = slices.Clone(exp.Variants)
	must(t, svc.CreateExperiment(ctx(t), admin, &e))
	_, err := svc.Transition(ctx(t), admin, e.Key, experiments.ActionStart)
	must(t, err)
	must(t, svc.CreateFlag(ctx(t), admin, &experiments.Flag{Key: e.Key + "-flag", Type: experiments.FlagString,
		DefaultVariant: "control", Enabled: true,
		Variants: map[string]json.RawMessage{"control": json.RawMessage(`"none"`), "ten_off": json.RawMessage(`"10%"`)},
		Rules:    []experiments.FlagRule{{ID: "delegate", Experiment: e.Key}}}))
	return svc
}

// parityExperiment is a running two-variant experiment (control, ten_off)
// with weights w.
func parityExperiment(key string, w0, w1 float64) *experiments.Experiment {
	return &experiments.Experiment{Key: key, Coverage: 1, Variants: []experiments.Variant{
		{Key: "control", Weight: w0, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
		{Key: "ten_off", Weight: w1, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
	}}
}

// askVariant returns unit's variant of experiment exp and whether the unit
// is in it, asked through path ("assign" or one of parityPaths), logging
// exposures.
func askVariant(t *testing.T, svc *experiments.Service, path, unit, exp string) (string, bool) {
	t.Helper()
	attrs := map[string]any{"id": unit}
	var ev *experiments.FlagEvaluation
	switch path {
	case "assign":
		rs, err := svc.Assign(ctx(t), paritySDK, experiments.AssignRequest{UnitID: unit, Experiments: []string{exp}, LogExposure: true})
		must(t, err)
		return rs[0].Variant, rs[0].InExperiment
	case "single", "flag":
		key := exp
		if path == "flag" {
			key += "-flag"
		}
		var err error
		ev, err = svc.EvaluateFlag(ctx(t), paritySDK, key, attrs)
		must(t, err)
	case "bulk":
		evs, _, err := svc.EvaluateFlagsLogged(ctx(t), paritySDK, attrs)
		must(t, err)
		i := slices.IndexFunc(evs, func(ev *experiments.FlagEvaluation) bool { return ev.Key == exp })
		if i < 0 {
			t.Fatalf("EvaluateFlags(%s) has no %s", unit, exp)
		}
		ev = evs[i]
	default:
		t.Fatalf("unknown path %q", path)
	}
	in, _ := ev.Metadata["in_experiment"].(bool)
	return ev.Variant, in
}

// exposuresByVariant returns the stored exposures of exp per slice of dim
// ("" for none) and variant.
func exposuresByVariant(t *testing.T, s experiments.Store, exp, dim string) string {
	t.Helper()
	st := stats(t, s, experiments.StatsQuery{Experiment: exp, Dimension: dim})
	out := map[string]int64{}
	for _, v := range st.Variants {
		out[v.Slice+"/"+v.Variant] = v.Exposures
	}
	return fmt.Sprint(out)
}

// testStickyParity checks that OpenFeature evaluations read and save the
// sticky docs Assign reads and saves: units whose stored doc disagrees
// with the hash keep the doc's variant, and fresh units get the same docs.
func testStickyParity(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	exp := parityExperiment("sticky-sale", 0.5, 0.5)
	exp.Sticky = true
	const units = 30 // u0..u14 with a stored doc, the others fresh
	for _, path := range parityPaths {
		t.Run(path, func(t *testing.T) {
			refStore, gotStore := newStore(t), newStore(t)
			ref := parityService(t, refStore, exp, t0)
			got := parityService(t, gotStore, exp, t0)
			spec, _, err := ref.SDKSpec(ctx(t), "")
			must(t, err)
			keys := make([]experiments.StickyKey, units)
			stuck := map[string]string{}
			var docs []assign.StickyDoc
			for i := range units {
				u := fmt.Sprintf("u%d", i)
				keys[i] = experiments.StickyKey{AttributeName: "id", UnitID: u}
				if i < units/2 {
					r, err := spec.Run("sticky-sale", assign.Attributes{"id": u})
					must(t, err)
					stuck[u] = map[string]string{"control": "ten_off", "ten_off": "control"}[r.VariantKey]
					docs = append(docs, assign.StickyDoc{AttributeName: "id", AttributeValue: u,
						Assignments: map[string]string{"sticky-sale__1": stuck[u]}})
				}
			}
			for _, s := range []experiments.Store{refStore, gotStore} {
				st, ok := s.(experiments.StickyStore)
				if !ok {
					t.Skipf("%T lacks StickyStore", s)
				}
				must(t, st.SaveSticky(ctx(t), docs))
			}
			for _, k := range keys {
				wv, win := askVariant(t, ref, "assign", k.UnitID, "sticky-sale")
				gv, gin := askVariant(t, got, path, k.UnitID, "sticky-sale")
				if gv != wv || gin != win || (stuck[k.UnitID] != "" && wv != stuck[k.UnitID]) {
					t.Errorf("%s: %s %s (in %v), Assign %s (in %v), stored doc %q", k.UnitID, path, gv, gin, wv, win, stuck[k.UnitID])
				}
			}
			load := func(s experiments.Store) string {
				t.Helper()
				d, err := s.(experiments.StickyStore).LoadSticky(ctx(t), keys)
				must(t, err)
				d = experiments.MergeStickyDocs(d) // sorted
				return fmt.Sprint(d)
			}
			if g, w := load(gotStore), load(refStore); g != w {
				t.Errorf("sticky docs after %s:\n%s\nafter Assign:\n%s", path, g, w)
			}
			if g, w := exposuresByVariant(t, gotStore, "sticky-sale", ""), exposuresByVariant(t, refStore, "sticky-sale", ""); g != w {
				t.Errorf("exposures after %s %s, after Assign %s", path, g, w)
			}
		})
	}
}

// testSegmentParity checks that OpenFeature evaluations add the unit's
// segment attributes as Assign does: an experiment targeting the AIPL
// stage purchase takes the unit with a stored purchase, and the exposures
// carry the stage.
func testSegmentParity(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	exp := parityExperiment("seg-sale", 0, 1)
	exp.Condition = json.RawMessage(`{"aipl_stage": "purchase"}`)
	now := t0.Add(24 * time.Hour)
	for _, path := range parityPaths {
		t.Run(path, func(t *testing.T) {
			refStore, gotStore := newStore(t), newStore(t)
			for _, s := range []experiments.Store{refStore, gotStore} {
				if _, ok := s.(experiments.CustomerSegmentStore); !ok {
					t.Skip("the store keeps no customer segments")
				}
				ingest(t, s, []experiments.Event{conversion("buy-1", "buyer", experiments.PurchaseEvent, time.Hour, 5000, nil),
					conversion("view-1", "browser", "view", time.Hour, 0, nil)})
			}
			ref := parityService(t, refStore, exp, now)
			got := parityService(t, gotStore, exp, now)
			for _, u := range []string{"buyer", "browser", "stranger"} {
				wv, win := askVariant(t, ref, "assign", u, "seg-sale")
				gv, gin := askVariant(t, got, path, u, "seg-sale")
				if gv != wv || gin != win || win != (u == "buyer") {
					t.Errorf("%s: %s %s (in %v), Assign %s (in %v); want only buyer in the experiment", u, path, gv, gin, wv, win)
				}
			}
			if g, w := exposuresByVariant(t, gotStore, "seg-sale", experiments.AttrAIPLStage),
				exposuresByVariant(t, refStore, "seg-sale", experiments.AttrAIPLStage); g != w {
				t.Errorf("exposures by aipl_stage after %s %s, after Assign %s", path, g, w)
			}
		})
	}
}
