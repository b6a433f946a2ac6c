package httpapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/promolift/promolift/stats/goldencheck"
)

// TestReportGoldenChecks compares every number of the report goldens
// report-spring-sale.json (every numeric leaf, by path, and the numbers
// written in its strings: the decision's ROI, lift and money, dates, hours)
// and report-spring-sale.csv (every numeric cell, by dimension, slice,
// metric, variant and column) with the value testdata/check_report_golden.py
// computes independently from the fixture files the report tests ingest
// (TestReportFixtureFiles), at the tolerance the check file states per
// value (1e-9 relative; a number in a string: its value rounded to the
// digits shown). The goldens are written by the code they test (-update);
// this test is what makes their numbers right rather than just unchanged.
// A number without a check value fails: a new field needs its independent
// value (rerun the script, command in its header, after adding the field's
// semantics to it).
func TestReportGoldenChecks(t *testing.T) {
	checks, err := goldencheck.Load(filepath.Join("testdata", "report-spring-sale.checks.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(checks.JSON) == 0 || len(checks.CSV) == 0 || len(checks.Text) == 0 {
		t.Fatalf("check file without check values: %d JSON, %d CSV, %d text", len(checks.JSON), len(checks.CSV), len(checks.Text))
	}
	for _, c := range []struct {
		name, golden string
		problems     func(golden []byte) ([]string, error)
	}{
		{"json numbers", "report-spring-sale.json", func(g []byte) ([]string, error) { return goldencheck.JSONProblems(g, checks.JSON) }},
		{"json strings", "report-spring-sale.json", func(g []byte) ([]string, error) { return goldencheck.TextProblems(g, checks.Text) }},
		{"csv cells", "report-spring-sale.csv", func(g []byte) ([]string, error) {
			return goldencheck.CSVProblems(g, []string{"dimension", "slice", "metric", "variant"}, checks.CSV)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("testdata", c.golden))
			if err != nil {
				t.Fatal(err)
			}
			problems, err := c.problems(golden)
			goldencheck.Expect(t, c.golden, problems, err)
		})
	}
}
