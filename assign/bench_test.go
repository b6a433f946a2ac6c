package assign

import "testing"

// benchSpecJSON has a 2- and a 5-variant experiment, both with a condition,
// hash version 2.
const benchSpecJSON = `{
  "version": "bench",
  "experiments": [
    {"key": "spring-sale", "hashVersion": 2, "seed": "spring-sale",
     "variations": ["control", "ten_off"],
     "meta": [{"key": "control"}, {"key": "ten_off"}],
     "weights": [0.5, 0.5],
     "condition": {"country": {"$in": ["KR", "JP"]}, "tier": {"$ne": "banned"}}},
    {"key": "five-way", "hashVersion": 2,
     "variations": [0, 5, 10, 15, 20],
     "meta": [{"key": "control"}, {"key": "five_off"}, {"key": "ten_off"}, {"key": "fifteen_off"}, {"key": "twenty_off"}],
     "weights": [0.2, 0.2, 0.2, 0.2, 0.2],
     "condition": {"country": {"$in": ["KR", "JP"]}, "tier": {"$ne": "banned"}}}
  ]
}`

func benchSpec(tb testing.TB) *Spec {
	tb.Helper()
	s, err := DecodeSpec([]byte(benchSpecJSON))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var benchAttrs = Attributes{"id": "user-123456", "country": "KR", "tier": "gold"}

var sinkF float64

// The hash inputs are variables so the compiler cannot specialise the
// baseline for constant strings: Run hashes runtime values too.
var benchSeed, benchUnit = "spring-sale", "user-123456"
var sinkR Result

// BenchmarkHashV2 is the baseline: the version-2 hash of the same seed and
// unit id that Run hashes.
func BenchmarkHashV2(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkF, _ = Hash(benchSeed, benchUnit, 2)
	}
}

// BenchmarkRun2 runs the 2-variant experiment with a condition.
func BenchmarkRun2(b *testing.B) { benchRun(b, "spring-sale") }

// BenchmarkRun5 runs the 5-variant experiment with a condition.
func BenchmarkRun5(b *testing.B) { benchRun(b, "five-way") }

func benchRun(b *testing.B, key string) {
	s := benchSpec(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkR, _ = s.Run(key, benchAttrs)
	}
	if !sinkR.InExperiment {
		b.Fatal("not in experiment")
	}
}

func TestRunAllocatesNothing(t *testing.T) {
	s := benchSpec(t)
	for _, key := range []string{"spring-sale", "five-way"} {
		t.Run(key, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				sinkR, _ = s.Run(key, benchAttrs)
			})
			if allocs != 0 {
				t.Errorf("Run(%q) allocates %v times per call, want 0", key, allocs)
			}
			if !sinkR.InExperiment {
				t.Errorf("unit not in experiment: %s", sinkR.Reason)
			}
		})
	}
	t.Run("hash", func(t *testing.T) {
		if a := testing.AllocsPerRun(1000, func() { sinkF, _ = Hash("s", "v", 2) }); a != 0 {
			t.Errorf("Hash allocates %v", a)
		}
	})
}
