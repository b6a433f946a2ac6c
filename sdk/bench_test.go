package sdk

import (
	"testing"

	"github.com/promolift/promolift/assign"
)

var (
	sinkA  Assignment
	sinkR  assign.Result
	sinkEv Evaluation
)

var benchAttrs = assign.Attributes{"id": "cust-123456", "country": "KR", "tier": "gold"}

// BenchmarkAssignRun is the baseline: assign's evaluation alone on the spec
// the client holds.
func BenchmarkAssignRun(b *testing.B) {
	spec, err := assign.DecodeSpec([]byte(testConfig))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkR, _ = spec.Run("spring-sale", benchAttrs)
	}
}

// BenchmarkClientRun is Client.Run on the same spec: snapshot load,
// evaluation and the exposure dedupe check.
func BenchmarkClientRun(b *testing.B) {
	f := newFakeServer(b, testConfig)
	c := newTestClient(b, f, nil)
	c.Run("spring-sale", benchAttrs)
	b.ReportAllocs()
	for b.Loop() {
		sinkA = c.Run("spring-sale", benchAttrs)
	}
}

// BenchmarkClientRunParallel is Client.Run from all cores.
func BenchmarkClientRunParallel(b *testing.B) {
	f := newFakeServer(b, testConfig)
	c := newTestClient(b, f, nil)
	c.Run("spring-sale", benchAttrs)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = c.Run("spring-sale", benchAttrs)
		}
	})
}

// BenchmarkClientEvaluateFlag evaluates a boolean flag with a targeting rule.
func BenchmarkClientEvaluateFlag(b *testing.B) {
	f := newFakeServer(b, testConfig)
	c := newTestClient(b, f, nil)
	b.ReportAllocs()
	for b.Loop() {
		sinkEv = c.Evaluate("gate", benchAttrs)
	}
}

// BenchmarkAssignEvalFeature is the baseline of BenchmarkClientEvaluateFlag.
func BenchmarkAssignEvalFeature(b *testing.B) {
	spec, err := assign.DecodeSpec([]byte(testConfig))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = spec.EvalFeature("gate", benchAttrs)
	}
}
