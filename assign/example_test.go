package assign_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/promolift/promolift/assign"
)

func ExampleSpec_Run() {
	spec, err := assign.DecodeSpec([]byte(`{
	  "version": "42",
	  "experiments": [{
	    "key": "spring-sale", "hashVersion": 2,
	    "variations": [{"percent_off": 0}, {"percent_off": 10}],
	    "meta": [{"key": "control"}, {"key": "ten_off"}],
	    "condition": {"country": {"$in": ["KR", "JP"]}}
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := spec.Run("spring-sale", assign.Attributes{"id": "user-123456", "country": "KR"})
	fmt.Println(res.VariantKey, res.InExperiment, res.Bucket, string(res.Value))
	res, _ = spec.Run("spring-sale", assign.Attributes{"id": "user-123456", "country": "US"})
	fmt.Println(res.VariantKey, res.InExperiment, res.Reason)
	// Output:
	// ten_off true 0.9753 {"percent_off": 10}
	// control false condition
}

func ExampleDecodeSpec_error() {
	_, err := assign.DecodeSpec([]byte(`{"experiments": [
	  {"key": "a", "variations": [0, 1], "meta": [{"key": "c"}, {"key": "t"}], "weights": [0.7, 0.7]}]}`))
	fmt.Println(err)
	// Output: experiments[0].weights: must sum to 1
}

// TestSpecRoundTrip checks a decoded Spec marshals back to JSON that decodes
// to the same assignments (the server serves what the SDK evaluates).
func TestSpecRoundTrip(t *testing.T) {
	src := `{"version": "v1", "layers": [{"key": "L"}], "holdouts": [{"key": "h", "coverage": 0.05}],
	  "savedGroups": {"vip": ["u3", "u7"]},
	  "experiments": [{"key": "a", "hashVersion": 2, "variations": [0, 1], "meta": [{"key": "c"}, {"key": "t"}],
	    "layer": "L", "layerRange": [0, 0.8], "condition": {"id": {"$notInGroup": "vip"}}, "coverage": 0.9}],
	  "features": {"f": {"defaultValue": false, "rules": [{"force": true, "range": [0, 0.5], "hashVersion": 2}]}}}`
	s1, err := assign.DecodeSpec([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(s1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := assign.DecodeSpec(data)
	if err != nil {
		t.Fatalf("re-decode %s: %v", data, err)
	}
	for i := range 200 {
		attrs := assign.Attributes{"id": fmt.Sprintf("u%d", i)}
		r1, _ := s1.Run("a", attrs)
		r2, _ := s2.Run("a", attrs)
		f1, f2 := s1.EvalFeature("f", attrs), s2.EvalFeature("f", attrs)
		if r1.VariantKey != r2.VariantKey || r1.Reason != r2.Reason || r1.Bucket != r2.Bucket || string(f1.Value) != string(f2.Value) {
			t.Fatalf("unit %d: %+v / %+v, %s / %s", i, r1, r2, f1.Value, f2.Value)
		}
	}
}

// TestConcurrentUse exercises a shared Spec from many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	s, err := assign.DecodeSpec([]byte(`{"experiments": [{"key": "a", "hashVersion": 2, "variations": [0, 1],
	  "meta": [{"key": "c"}, {"key": "t"}], "parentConditions": [{"id": "f", "condition": {"value": true}}]}],
	  "features": {"f": {"defaultValue": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				attrs := assign.Attributes{"id": fmt.Sprintf("g%d-%d", g, i)}
				if r, err := s.Run("a", attrs); err != nil || !r.InExperiment {
					t.Errorf("Run: %v %+v", err, r)
					return
				}
				s.EvalFeature("f", attrs)
			}
		})
	}
	wg.Wait()
}
