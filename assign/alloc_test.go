package assign

import (
	"fmt"
	"testing"
)

// TestEvalFeatureAllocs checks that feature evaluation through force,
// rollout and default rules does not allocate (the SDK's hot path).
func TestEvalFeatureAllocs(t *testing.T) {
	spec, err := DecodeSpec([]byte(`{"features": {"gate": {
		"defaultValue": false, "defaultVariant": "off",
		"variants": {"on": true, "off": false}, "enabled": true, "metadata": {"owner": "growth"},
		"rules": [
			{"id": "gold", "condition": {"tier": "gold"}, "force": true, "variant": "on"},
			{"id": "rollout", "force": true, "variant": "on", "coverage": 0.25, "hashAttribute": "id", "hashVersion": 2, "seed": "gate"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, attrs := range []Attributes{
		{"id": "u1", "tier": "gold"},
		{"id": "u1", "tier": "silver"},
		{"id": "u2"},
		nil,
	} {
		var r FeatureResult
		if n := testing.AllocsPerRun(200, func() { r = spec.EvalFeature("gate", attrs) }); n != 0 {
			t.Errorf("EvalFeature(%v) = %s (%s): %v allocations per call, want 0", attrs, r.Value, r.Source, n)
		}
	}
	u1 := Attributes{"id": "u1"}
	if n := testing.AllocsPerRun(200, func() { spec.EvalFeature("missing", u1) }); n != 0 {
		t.Errorf("EvalFeature(missing): %v allocations per call, want 0", n)
	}
}

// TestEvalStackDeep checks cycle detection beyond the fixed stack depth.
func TestEvalStackDeep(t *testing.T) {
	var st evalStack
	const depth = 20
	for i := range depth {
		k := fmt.Sprint("f", i)
		if st.has(k) {
			t.Fatalf("has(%s) before push", k)
		}
		st.push(k)
	}
	for i := range depth {
		if !st.has(fmt.Sprint("f", i)) {
			t.Fatalf("has(f%d) = false", i)
		}
	}
	for i := depth - 1; i >= 0; i-- {
		st.pop()
		if st.has(fmt.Sprint("f", i)) {
			t.Fatalf("has(f%d) after pop", i)
		}
	}
}

// TestFeatureFlagFields checks the promolift flag fields round-trip and
// are validated.
func TestFeatureFlagFields(t *testing.T) {
	spec, err := DecodeSpec([]byte(`{"features": {"f": {"defaultValue": 1, "defaultVariant": "one",
		"variants": {"one": 1, "two": 2}, "enabled": false, "metadata": {"v": 3},
		"rules": [{"id": "r", "force": 2, "variant": "two"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	f := spec.Features["f"]
	if f.IsEnabled() || f.DefaultVariant != "one" || string(f.Variants["two"]) != "2" ||
		string(f.Metadata) != `{"v": 3}` || f.Rules[0].Variant != "two" {
		t.Fatalf("decoded %+v", f)
	}
	for _, bad := range []string{
		`{"features": {"f": {"metadata": [1]}}}`,
		`{"features": {"f": {"variants": {"a": 1}, "defaultVariant": "b"}}}`,
	} {
		if _, err := DecodeSpec([]byte(bad)); err == nil {
			t.Errorf("DecodeSpec(%s): no error", bad)
		}
	}
}
