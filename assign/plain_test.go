package assign

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
)

// TestPlainRunMatchesFull checks run's short sequence for plain experiments
// against runFull, the full sequence of checks, on every experiment of the
// GrowthBook run, feature and stickyBucket cases and of the frozen vectors:
// both must write the same Result. It also checks that the condition fast
// path (attrTests) agrees with the tree walk on every evalCondition case.
func TestPlainRunMatchesFull(t *testing.T) {
	cases := loadCases(t)
	var plain, full int
	check := func(t *testing.T, s *Spec, ev *Eval) {
		t.Helper()
		for _, e := range specExperiments(s) {
			for _, featureID := range []string{"", "feature"} {
				var fast, want Result
				evFast, evFull := fresh(ev), fresh(ev)
				s.run(evFast, e, featureID, nil, &fast)
				s.runFull(evFull, e, featureID, nil, &want)
				if !reflect.DeepEqual(fast, want) {
					t.Errorf("experiment %q: run gave %+v, runFull %+v", e.Key, fast, want)
				}
				if !reflect.DeepEqual(evFast.Sticky, evFull.Sticky) {
					t.Errorf("experiment %q: run saved %+v, runFull %+v", e.Key, evFast.Sticky, evFull.Sticky)
				}
				if e.c.plain && ev.plainFor(e) {
					plain++
				} else {
					full++
				}
			}
		}
	}
	for _, section := range []string{"run", "feature", "stickyBucket"} {
		for i, raw := range cases[section] {
			var row []json.RawMessage
			mustUnmarshal(t, raw, &row)
			var ctx gbContext
			mustUnmarshal(t, row[1], &ctx)
			var s *Spec
			if section == "run" {
				s = ctx.spec(t, row[2])
			} else {
				s = ctx.spec(t)
			}
			t.Run(section+"/"+string(row[0]), func(t *testing.T) {
				check(t, s, ctx.eval())
				if i%2 == 0 { // the same without the context's switches
					check(t, s, &Eval{Attributes: ctx.Attributes})
				}
			})
		}
	}
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	mustUnmarshal(t, data, &f)
	for _, v := range f.Vectors {
		s, err := DecodeSpec(v.Spec)
		if err != nil {
			t.Fatalf("%s: DecodeSpec: %v", v.Name, err)
		}
		t.Run("vector/"+v.Name, func(t *testing.T) { check(t, s, &Eval{Attributes: v.Attributes}) })
	}
	// One experiment per setting that makes an experiment not plain, next to
	// plain ones, under every evaluation switch that run checks.
	s, err := DecodeSpecLax([]byte(plainSpecJSON))
	if err != nil {
		t.Fatal(err)
	}
	s.OptOuts = NewOptOuts("id", "salt", []string{"u1"}, true) // u1 withdrew consent
	for _, attrs := range []Attributes{
		{"id": "u1", "country": "KR"}, {"id": "u2", "country": "US"}, {"id": "u3", "country": "KR", "tier": "banned"},
		{"id": 17.0, "country": "JP"}, {"country": "KR", "device": "d9"}, {"id": "", "device": "d4", "country": "JP"},
		{"id": "u5", "country": 3.0}, {"id": "u6"},
	} {
		evs := []*Eval{
			{Attributes: attrs},
			{Attributes: attrs, Disabled: true},
			{Attributes: attrs, QAMode: true},
			{Attributes: attrs, ForcedVariations: map[string]int{"plain": 1, "stopped": 0}},
			{Attributes: attrs, CheckConsent: true},
			{Attributes: attrs, Sticky: NewStickyDocs()},
		}
		for i, ev := range evs {
			t.Run(fmt.Sprintf("synthetic/%v/%d", attrs, i), func(t *testing.T) { check(t, s, ev) })
		}
	}
	t.Logf("%d evaluations took the plain sequence, %d the full one", plain, full)
	if plain < 100 || full < 100 {
		t.Errorf("plain %d, full %d: each sequence should be compared at least 100 times", plain, full)
	}

	var fastConds int
	for _, raw := range cases["evalCondition"] {
		var row []json.RawMessage
		mustUnmarshal(t, raw, &row)
		var attrs Attributes
		var groups SavedGroups
		mustUnmarshal(t, row[2], &attrs)
		if len(row) > 4 {
			mustUnmarshal(t, row[4], &groups)
		}
		c, err := ParseConditionLax(row[1])
		if err != nil || c.root == nil || c.root.attrs == nil {
			continue
		}
		fastConds++
		if got, want := c.Eval(attrs, groups), c.root.eval(map[string]any(attrs), groups); got != want {
			t.Errorf("condition %s on %s: attrTests %v, tree walk %v", row[1], row[2], got, want)
		}
	}
	if fastConds < 10 {
		t.Errorf("only %d evalCondition cases have attrTests", fastConds)
	}
}

// fresh returns ev with an empty sticky store of its own when ev has one,
// so that one evaluation does not see the documents another one saved.
func fresh(ev *Eval) *Eval {
	if ev.Sticky == nil {
		return ev
	}
	c := *ev
	c.Sticky = NewStickyDocs()
	return &c
}

// specExperiments returns every experiment of s: its experiments and its
// features' experiment rules.
func specExperiments(s *Spec) []*Experiment {
	var es []*Experiment
	for i := range s.Experiments {
		es = append(es, &s.Experiments[i])
	}
	for _, key := range sortedFeatureKeys(s.Features) {
		for _, r := range s.Features[key].Rules {
			if r.exp != nil {
				es = append(es, r.exp)
			}
		}
	}
	return es
}

// plainSpecJSON has plain experiments (plain, fallback, v1, nocond) and one
// experiment for each setting that is not plain.
const plainSpecJSON = `{
  "layers": [{"key": "L"}],
  "holdouts": [{"key": "h", "coverage": 0.5, "experiments": ["held"]}],
  "features": {"gate": {"defaultValue": true}},
  "experiments": [
    {"key": "plain", "hashVersion": 2, "variations": [0, 1], "meta": [{"key": "a"}, {"key": "b", "passthrough": true}],
     "condition": {"country": {"$in": ["KR", "JP"]}, "tier": {"$ne": "banned"}}, "consent": true},
    {"key": "fallback", "hashVersion": 2, "hashAttribute": "id", "fallbackAttribute": "device",
     "variations": [0, 1, 2], "weights": [0.2, 0.3, 0.5], "coverage": 0.6, "condition": {"country": "KR"}},
    {"key": "v1", "variations": [0, 1], "condition": {"country": {"$eq": "JP"}}},
    {"key": "nocond", "hashVersion": 2, "variations": [0, 1]},
    {"key": "stopped", "status": "stopped", "hashVersion": 2, "variations": [0, 1]},
    {"key": "inactive", "active": false, "hashVersion": 2, "variations": [0, 1]},
    {"key": "draft", "status": "draft", "hashVersion": 2, "variations": [0, 1]},
    {"key": "one", "hashVersion": 2, "variations": [0]},
    {"key": "ranges", "hashVersion": 2, "variations": [0, 1], "ranges": [[0, 0.3], [0.3, 0.6], [0.6, 1]]},
    {"key": "v3", "hashVersion": 3, "variations": [0, 1]},
    {"key": "held", "hashVersion": 2, "variations": [0, 1]},
    {"key": "filtered", "hashVersion": 2, "variations": [0, 1], "filters": [{"seed": "f", "ranges": [[0, 0.5]]}]},
    {"key": "ns", "hashVersion": 2, "variations": [0, 1], "namespace": ["n", 0, 0.5]},
    {"key": "layered", "hashVersion": 2, "variations": [0, 1], "layer": "L", "layerRange": [0.5, 1]},
    {"key": "parent", "hashVersion": 2, "variations": [0, 1], "parentConditions": [{"id": "gate", "condition": {"value": true}}]},
    {"key": "forced", "hashVersion": 2, "variations": [0, 1], "force": 1}
  ]
}`
