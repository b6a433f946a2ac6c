package httpapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/promolift/promolift/stats/goldencheck"
)

// TestReportGoldenChecks compares every number of the report goldens
// report-spring-sale.json (every numeric leaf, by path) and
// report-spring-sale.csv (every numeric cell, by dimension, slice, metric,
// variant and column) with the value testdata/check_report_golden.py
// computes independently from the fixture files the report tests ingest
// (TestReportFixtureFiles), at the tolerance the check file states per
// value (1e-9 relative). The goldens are written by the code they test
// (-update); this test is what makes their numbers right rather than just
// unchanged. A number without a check value fails: a new field needs its
// independent value (rerun the script, command in its header, after adding
// the field's semantics to it).
func TestReportGoldenChecks(t *testing.T) {
	checks, err := goldencheck.Load(filepath.Join("testdata", "report-spring-sale.checks.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		golden string
		checks map[string]goldencheck.Check
		check  func(golden []byte, checks map[string]goldencheck.Check) ([]string, error)
	}{
		{"report-spring-sale.json", checks.JSON, goldencheck.JSONProblems},
		{"report-spring-sale.csv", checks.CSV, func(golden []byte, checks map[string]goldencheck.Check) ([]string, error) {
			return goldencheck.CSVProblems(golden, []string{"dimension", "slice", "metric", "variant"}, checks)
		}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("testdata", c.golden))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.checks) == 0 {
				t.Fatal("no check values")
			}
			problems, err := c.check(golden, c.checks)
			goldencheck.Expect(t, c.golden, problems, err)
		})
	}
}
