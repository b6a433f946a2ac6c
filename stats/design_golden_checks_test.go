package stats

import (
	"os"
	"testing"

	"github.com/promolift/promolift/stats/goldencheck"
)

// TestDesignGoldenChecks compares every number of the golden output of
// `promolift analyze` on design_example.json (written by
// TestAnalyzeDesignExample in cmd/promolift with -update, so by the code it
// tests) with the value testdata/check_design_golden.py computes
// independently, at the tolerance that file states per value (1e-9
// relative). A number of the golden without a check value fails too: a new
// field needs its independent value. Regenerate the check values with the
// command in the script's header.
func TestDesignGoldenChecks(t *testing.T) {
	golden, err := os.ReadFile("testdata/design_example.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	checks, err := goldencheck.Load("testdata/design_example.checks.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(checks.JSON) == 0 {
		t.Fatal("no check values")
	}
	problems, err := goldencheck.JSONProblems(golden, checks.JSON)
	goldencheck.Expect(t, "design_example.golden.json", problems, err)
}
