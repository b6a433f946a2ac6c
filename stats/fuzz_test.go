package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"testing"
)

// FuzzAnalyze feeds arbitrary JSON to DecodeAnalyzeInput and Analyze: they
// must never panic, and every accepted input must give an output that
// encodes as JSON (no NaN/Inf) and satisfies the invariants of checkOutput.
// The seed corpus is in testdata/fuzz/FuzzAnalyze plus the design example
// and random valid inputs.
func FuzzAnalyze(f *testing.F) {
	if b, err := os.ReadFile("testdata/design_example.json"); err == nil {
		f.Add(b)
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		b, _ := json.Marshal(randomInput(r))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeAnalyzeInput(bytes.NewReader(data))
		if err != nil {
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("decode error of type %T: %v", err, err)
			}
			return
		}
		out, err := Analyze(in)
		if err != nil {
			var ves ValidationErrors
			if !errors.As(err, &ves) || len(ves) == 0 {
				t.Fatalf("analyze error of type %T: %v", err, err)
			}
			for _, ve := range ves {
				if ve.Message == "" {
					t.Fatalf("empty problem in %v", err)
				}
			}
			return
		}
		checkOutput(t, out)
	})
}
