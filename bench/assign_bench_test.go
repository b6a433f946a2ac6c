// Package bench holds benchmarks that compare promolift with other
// libraries on the same machine in the same run. It is a separate module so
// that the comparison libraries never enter the main module.
package bench

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"testing"

	growthbook "github.com/growthbook/growthbook-golang"

	"github.com/promolift/promolift/assign"
)

// experimentJSON is one 2-variant experiment with a targeting condition,
// hash version 2, in GrowthBook's JSON shape (which assign.Spec reads too).
const experimentJSON = `{"key": "spring-sale", "seed": "spring-sale", "hashVersion": 2,
  "variations": ["control", "ten_off"], "meta": [{"key": "control"}, {"key": "ten_off"}],
  "weights": [0.5, 0.5],
  "condition": {"country": {"$in": ["KR", "JP"]}, "tier": {"$ne": "banned"}}}`

var (
	unitID = "user-123456"
	seed   = "spring-sale"
	attrs  = map[string]any{"id": unitID, "country": "KR", "tier": "gold"}

	sinkU32 uint32
	sinkF   float64
	sinkR   assign.Result
	sinkGB  *growthbook.ExperimentResult
)

// BenchmarkFNV1a32 is the floor: hash/fnv's FNV-1a 32 over seed+unit.
func BenchmarkFNV1a32(b *testing.B) {
	b.ReportAllocs()
	h := fnv.New32a()
	for b.Loop() {
		h.Reset()
		h.Write([]byte(seed))
		h.Write([]byte(unitID))
		sinkU32 = h.Sum32()
	}
}

// BenchmarkHashV2 is assign.Hash version 2 (two FNV-1a passes).
func BenchmarkHashV2(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkF, _ = assign.Hash(seed, unitID, 2)
	}
}

// BenchmarkAssignRun is promolift's Run on the experiment.
func BenchmarkAssignRun(b *testing.B) {
	s, err := assign.DecodeSpec([]byte(`{"experiments": [` + experimentJSON + `]}`))
	if err != nil {
		b.Fatal(err)
	}
	a := assign.Attributes(attrs)
	b.ReportAllocs()
	for b.Loop() {
		sinkR, _ = s.Run("spring-sale", a)
	}
	if sinkR.VariantKey == "" || !sinkR.InExperiment {
		b.Fatalf("unexpected result %+v", sinkR)
	}
}

// BenchmarkGrowthBookRunExperiment is the GrowthBook Go SDK (v0.7.0)
// running the same experiment for the same attributes.
func BenchmarkGrowthBookRunExperiment(b *testing.B) {
	var exp growthbook.Experiment
	if err := json.Unmarshal([]byte(experimentJSON), &exp); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	client, err := growthbook.NewClient(ctx, growthbook.WithAttributes(growthbook.Attributes(attrs)))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	b.ReportAllocs()
	for b.Loop() {
		sinkGB = client.RunExperiment(ctx, &exp)
	}
	if !sinkGB.InExperiment {
		b.Fatalf("unexpected result %+v", sinkGB)
	}
}

// TestSameAssignment checks both libraries agree on the benchmarked unit.
func TestSameAssignment(t *testing.T) {
	s, err := assign.DecodeSpec([]byte(`{"experiments": [` + experimentJSON + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	var exp growthbook.Experiment
	if err := json.Unmarshal([]byte(experimentJSON), &exp); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"user-123456", "u1", "u2", "u3", "abc", "xyz"} {
		a := map[string]any{"id": id, "country": "JP", "tier": "gold"}
		client, err := growthbook.NewClient(ctx, growthbook.WithAttributes(growthbook.Attributes(a)))
		if err != nil {
			t.Fatal(err)
		}
		gb := client.RunExperiment(ctx, &exp)
		client.Close()
		ours, err := s.Run("spring-sale", a)
		if err != nil {
			t.Fatal(err)
		}
		if gb.VariationId != ours.VariationIndex || gb.InExperiment != ours.InExperiment || gb.Key != ours.VariantKey {
			t.Errorf("%s: growthbook %d/%v/%s, assign %d/%v/%s", id, gb.VariationId, gb.InExperiment, gb.Key,
				ours.VariationIndex, ours.InExperiment, ours.VariantKey)
		}
	}
}
