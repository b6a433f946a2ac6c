package assign

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeSpecErrors(t *testing.T) {
	const ok2 = `"variations": [0, 1], "meta": [{"key": "control"}, {"key": "t"}]`
	tests := []struct {
		name, spec, want string
	}{
		{"bad json", `{`, "decode spec"},
		{"trailing", `{} {}`, "trailing data"},
		{"missing key", `{"experiments": [{` + ok2 + `}]}`, "experiments[0].key: required"},
		{"duplicate key", `{"experiments": [{"key": "a", ` + ok2 + `}, {"key": "a", ` + ok2 + `}]}`, `experiments[1].key: duplicate experiment "a"`},
		{"weights sum", `{"experiments": [{"key": "a", "weights": [0.5, 0.6], ` + ok2 + `}, {"key": "b", ` + ok2 + `}]}`, "experiments[0].weights: must sum to 1"},
		{"weights sum third", `{"experiments": [{"key": "a", ` + ok2 + `}, {"key": "b", ` + ok2 + `}, {"key": "c", "weights": [0.2, 0.2], ` + ok2 + `}]}`, "experiments[2].weights: must sum to 1"},
		{"weights count", `{"experiments": [{"key": "a", "weights": [1], ` + ok2 + `}]}`, "experiments[0].weights: must have one weight per variation"},
		{"no meta", `{"experiments": [{"key": "a", "variations": [0, 1]}]}`, "experiments[0].meta: must have one entry per variation"},
		{"dup variant", `{"experiments": [{"key": "a", "variations": [0, 1], "meta": [{"key": "c"}, {"key": "c"}]}]}`, `experiments[0].meta[1].key: duplicate variant key "c"`},
		{"one variation", `{"experiments": [{"key": "a", "variations": [0], "meta": [{"key": "c"}]}]}`, "experiments[0].variations: must have at least 2"},
		{"coverage", `{"experiments": [{"key": "a", "coverage": 1.5, ` + ok2 + `}]}`, "experiments[0].coverage: must be between 0 and 1"},
		{"hash version", `{"experiments": [{"key": "a", "hashVersion": 3, ` + ok2 + `}]}`, "experiments[0].hashVersion: must be 1 or 2"},
		{"force", `{"experiments": [{"key": "a", "force": 2, ` + ok2 + `}]}`, "experiments[0].force"},
		{"namespace", `{"experiments": [{"key": "a", "namespace": ["n", 0.6, 0.5], ` + ok2 + `}]}`, "experiments[0].namespace"},
		{"condition operator", `{"experiments": [{"key": "a", "condition": {"$and": [{"x": 1}, {"country": {"$inn": ["KR"]}}]}, ` + ok2 + `}]}`,
			`experiments[0].condition: condition: $and[1].country.$inn: unknown operator "$inn"`},
		{"condition regex", `{"experiments": [{"key": "a", "condition": {"x": {"$regex": "("}}, ` + ok2 + `}]}`, "experiments[0].condition: condition: x.$regex: invalid regular expression"},
		{"unknown layer", `{"experiments": [{"key": "a", "layer": "L", "layerRange": [0, 0.5], ` + ok2 + `}]}`, `experiments[0].layer: unknown layer "L"`},
		{"layer range missing", `{"layers": [{"key": "L"}], "experiments": [{"key": "a", "layer": "L", ` + ok2 + `}]}`, "experiments[0].layerRange: required"},
		{"layer overlap", `{"layers": [{"key": "L"}], "experiments": [{"key": "a", "layer": "L", "layerRange": [0, 0.5], ` + ok2 + `}, {"key": "b", "layer": "L", "layerRange": [0.4, 1], ` + ok2 + `}]}`, `experiments[1].layerRange: overlaps experiments[0] in layer "L"`},
		{"holdout coverage", `{"holdouts": [{"key": "h", "coverage": 2}]}`, "holdouts[0].coverage: must be between 0 and 1"},
		{"rule condition", `{"features": {"f": {"rules": [{"force": 1, "condition": {"a": {"$gt": [1]}}}]}}}`, `features["f"].rules[0].condition: condition: a.$gt: argument must be a string or a number`},
		{"rule coverage", `{"features": {"f": {"rules": [{"force": 1, "coverage": -1}]}}}`, `features["f"].rules[0].coverage`},
		{"parent id", `{"features": {"f": {"rules": [{"force": 1, "parentConditions": [{"condition": {"value": true}}]}]}}}`, `features["f"].rules[0].parentConditions[0].id: required`},
		{"rule weights", `{"features": {"f": {"rules": [{"variations": [1, 2], "weights": [0.9, 0.9]}]}}}`, `features["f"].rules[0].weights: must sum to 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSpec([]byte(tt.spec))
			if err == nil {
				t.Fatalf("DecodeSpec succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct{ cond, path string }{
		{`{"a": {"$foo": 1}}`, "a.$foo"},
		{`{"$or": [{"a": 1}, {"b": {"$in": 3}}]}`, "$or[1].b.$in"},
		{`{"$and": {"a": 1}}`, "$and"},
		{`{"x.y": {"$elemMatch": {"z": {"$regexi": "["}}}}`, "x.y.$elemMatch.z.$regexi"},
		{`{"a": {"$not": {"$size": {"$bad": 1}}}}`, "a.$not.$size.$bad"},
		{`{"a": {"$all": [{"$zz": 1}]}}`, "a.$all[0].$zz"},
		// Pattern longer than MaxRegexLen (1024).
		{`{"a": {"$regex": "` + strings.Repeat("a", 1025) + `"}}`, "a.$regex"},
		// Short pattern compiling to more than MaxRegexProg instructions.
		{`{"b.c": {"$regexi": "` + strings.Repeat("a{1000}", 6) + `"}}`, "b.c.$regexi"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			_, err := ParseCondition([]byte(tt.cond))
			var ce *ConditionError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConditionError", err)
			}
			if ce.Path != tt.path {
				t.Errorf("path = %q, want %q (%v)", ce.Path, tt.path, err)
			}
			if _, err := ParseConditionLax([]byte(tt.cond)); err != nil && tt.path != "$and" {
				t.Errorf("lax: %v", err)
			}
		})
	}
	for _, bad := range []string{`[]`, `"x"`, `{`} {
		if _, err := ParseCondition([]byte(bad)); err == nil {
			t.Errorf("ParseCondition(%s) succeeded", bad)
		}
	}
}

func TestConditionEvalAllocs(t *testing.T) {
	c, err := ParseCondition([]byte(`{"country": {"$in": ["KR", "JP"]}, "age": {"$gte": 18, "$lt": 65}, "v": {"$vgte": "1.2.0"}, "plan": "pro", "beta": true, "name": {"$regex": "^a"}}`))
	if err != nil {
		t.Fatal(err)
	}
	attrs := Attributes{"country": "JP", "age": 30.0, "v": "1.10.0", "plan": "pro", "beta": true, "name": "anna"}
	if !c.Eval(attrs, nil) {
		t.Fatal("condition should pass")
	}
	c2, _ := ParseCondition([]byte(`{"country": {"$in": ["KR", "JP"]}, "age": {"$gte": 18}, "plan": "pro", "beta": true}`))
	if a := testing.AllocsPerRun(100, func() { c2.Eval(attrs, nil) }); a != 0 {
		t.Errorf("Eval allocates %v", a)
	}
}

const layerSpec = `{
  "layers": [{"key": "checkout"}],
  "holdouts": [{"key": "hold", "coverage": 0.1, "experiments": ["a"]}],
  "experiments": [
    {"key": "a", "hashVersion": 2, "variations": [0, 1], "meta": [{"key": "control"}, {"key": "ten_off"}], "layer": "checkout", "layerRange": [0, 0.3]},
    {"key": "b", "hashVersion": 2, "variations": [0, 1], "meta": [{"key": "control"}, {"key": "free_ship"}], "layer": "checkout", "layerRange": [0.3, 0.6]},
    {"key": "c", "hashVersion": 2, "variations": [0, 1], "meta": [{"key": "control"}, {"key": "points"}], "layer": "checkout", "layerRange": [0.6, 1]}
  ]
}`

func TestLayersAndHoldouts(t *testing.T) {
	s, err := DecodeSpec([]byte(layerSpec))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	held := 0
	for i := range n {
		id := "unit-" + itoa(i)
		attrs := Attributes{"id": id}
		in := 0
		for _, k := range []string{"a", "b", "c"} {
			r, err := s.Run(k, attrs)
			if err != nil {
				t.Fatal(err)
			}
			if r.InExperiment {
				in++
			}
			if r.Reason == ReasonHoldout {
				held++
				if r.VariantKey != "control" || r.InExperiment {
					t.Fatalf("held-out unit got %+v", r)
				}
			}
		}
		ns := hashNamespace("checkout", id)
		if in > 1 {
			t.Fatalf("unit %s in %d experiments of one layer", id, in)
		}
		if in == 0 && !(ns < 0.3) {
			t.Fatalf("unit %s (namespace hash %v) in no experiment outside experiment a's slice", id, ns)
		}
	}
	// The holdout (10%, covering only "a") is checked before the layer
	// slice, so about 10% of all units report it for "a".
	if share := float64(held) / n; share < 0.09 || share > 0.11 {
		t.Errorf("held-out share %v, want about 0.1", share)
	}
}

func itoa(i int) string {
	var b [20]byte
	return string(appendJSNumber(b[:0], float64(i)))
}

func TestRunErrorsAndForced(t *testing.T) {
	s, err := DecodeSpec([]byte(layerSpec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run("nope", Attributes{"id": "x"}); !errors.Is(err, ErrUnknownExperiment) {
		t.Errorf("err = %v, want ErrUnknownExperiment", err)
	}
	var zero Spec
	if _, err := zero.Run("a", nil); err == nil {
		t.Error("uncompiled spec: want error")
	}
	tests := []struct {
		name   string
		ev     Eval
		reason Reason
		key    string
	}{
		{"no id", Eval{Attributes: Attributes{}}, ReasonNoHashAttribute, "control"},
		{"forced", Eval{Attributes: Attributes{"id": "x"}, ForcedVariations: map[string]int{"c": 1}}, ReasonForced, "points"},
		{"disabled", Eval{Attributes: Attributes{"id": "x"}, Disabled: true}, ReasonDisabled, "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := s.RunWith(&tt.ev, "c")
			if err != nil {
				t.Fatal(err)
			}
			if r.Reason != tt.reason || r.VariantKey != tt.key {
				t.Errorf("got %s/%s, want %s/%s", r.Reason, r.VariantKey, tt.reason, tt.key)
			}
		})
	}
}

func TestStickyDocs(t *testing.T) {
	s, err := DecodeSpec([]byte(`{"experiments": [{"key": "e", "hashVersion": 2, "bucketVersion": 1,
	  "variations": [0, 1], "meta": [{"key": "control"}, {"key": "treat"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	attrs := Attributes{"id": "u-1"}
	if got := s.StickyBucketKeys(attrs); len(got) != 1 || got[0] != "id||u-1" {
		t.Fatalf("StickyBucketKeys = %v", got)
	}
	// A stored assignment wins over the hash.
	store := NewStickyDocs(StickyDoc{AttributeName: "id", AttributeValue: "u-1", Assignments: map[string]string{"e__1": "treat"}})
	r, err := s.RunWith(&Eval{Attributes: attrs, Sticky: store}, "e")
	if err != nil {
		t.Fatal(err)
	}
	if r.VariantKey != "treat" || !r.StickyBucketUsed || r.Reason != ReasonSticky {
		t.Errorf("got %+v", r)
	}
	if len(store.Changed()) != 0 {
		t.Errorf("unchanged doc saved: %v", store.Changed())
	}
	// A fresh unit gets a doc to save.
	store = NewStickyDocs()
	r, _ = s.RunWith(&Eval{Attributes: attrs, Sticky: store}, "e")
	ch := store.Changed()
	if len(ch) != 1 || ch[0].Assignments["e__1"] != r.VariantKey || ch[0].AttributeValue != "u-1" {
		t.Errorf("Changed = %+v, result %s", ch, r.VariantKey)
	}
}

func TestFeatureEval(t *testing.T) {
	s, err := DecodeSpec([]byte(`{"features": {
	  "gate": {"defaultValue": false, "rules": [{"id": "gold", "condition": {"tier": "gold"}, "force": true}, {"id": "roll", "force": true, "coverage": 0.25, "hashVersion": 2}]},
	  "promo": {"defaultValue": "none", "rules": [{"parentConditions": [{"id": "gate", "condition": {"value": true}, "gate": true}]},
	     {"id": "exp", "key": "promo-exp", "hashVersion": 2, "variations": ["\"a\"", "\"b\""], "meta": [{"key": "a"}, {"key": "b"}]}]}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := s.EvalFeature("gate", Attributes{"id": "x", "tier": "gold"})
	if r.Source != SourceForce || r.RuleID != "gold" || !r.On {
		t.Errorf("gate gold: %+v", r)
	}
	if r := s.EvalFeature("missing", nil); r.Source != SourceUnknownFeature || string(r.Value) != "null" || !r.Off {
		t.Errorf("missing: %+v", r)
	}
	var prereq, exp int
	for i := range 400 {
		r := s.EvalFeature("promo", Attributes{"id": itoa(i + 1)})
		switch r.Source {
		case SourcePrerequisite:
			prereq++
		case SourceExperiment:
			exp++
			if r.ExperimentResult == nil || r.Experiment.Key != "promo-exp" {
				t.Fatalf("experiment result missing: %+v", r)
			}
		default:
			t.Fatalf("unexpected source %s", r.Source)
		}
	}
	if exp < 60 || exp > 140 {
		t.Errorf("%d of 400 units passed a 25%% rollout gate", exp)
	}
}
