package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var analyzeUpdate = flag.Bool("update", false, "rewrite the golden files of the analyze tests")

const (
	designExample = "../../stats/testdata/design_example.json"
	designGolden  = "../../stats/testdata/design_example.golden.json"
)

// runCmd runs a registered command and returns its exit code and output.
func runCmd(t *testing.T, name string, args []string, stdin string) (int, string, string) {
	t.Helper()
	c, ok := commands[name]
	if !ok {
		t.Fatalf("command %q not registered", name)
	}
	var out, errb bytes.Buffer
	code := c.run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// field returns the value at a dotted path of a decoded JSON document,
// with numeric segments indexing arrays.
func field(t *testing.T, doc any, path string) (any, bool) {
	t.Helper()
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := 0
			for _, ch := range seg {
				i = i*10 + int(ch-'0')
			}
			if i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func requireFields(t *testing.T, doc any, paths ...string) {
	t.Helper()
	for _, p := range paths {
		v, ok := field(t, doc, p)
		if !ok {
			t.Errorf("missing field %s", p)
			continue
		}
		if v == nil && !strings.HasSuffix(p, ".error") {
			t.Errorf("field %s is null", p)
		}
	}
}

var comparisonFields = []string{
	"variant", "absolute.estimate", "absolute.se", "absolute.ci", "absolute.p_value",
	"relative.estimate", "relative.se", "relative.df", "relative.ci", "relative.ci_normal", "relative.ci_fieller",
	"relative.p_value", "adjusted_p_value", "significant", "error", "warnings",
}

func prefixed(prefix string, fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = prefix + f
	}
	return out
}

// TestAnalyzeDesignExample runs `promolift analyze` on the DESIGN.md §5
// example and checks every field of the contract and the golden output.
func TestAnalyzeDesignExample(t *testing.T) {
	in, err := os.ReadFile(designExample)
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "analyze", nil, string(in))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for m := 0; m < 2; m++ {
		p := "metrics." + string(rune('0'+m)) + "."
		requireFields(t, doc, p+"key", p+"arms.0.units", p+"arms.0.mean", p+"arms.0.variance", p+"arms.1.units")
		requireFields(t, doc, prefixed(p+"comparisons.0.", comparisonFields)...)
	}
	requireFields(t, doc, "metrics.0.comparisons.0.absolute.pooled_z_p_value", "metrics.0.arms.0.rate")
	requireFields(t, doc, "srm.chi2", "srm.df", "srm.p_value", "srm.flagged",
		"roi.incremental_revenue", "roi.net", "roi.roi", "roi.roi_percent", "roi.ci", "roi.error",
		"personalization_lift.estimate", "personalization_lift.ci", "personalization_lift.error")

	if *analyzeUpdate {
		if err := os.WriteFile(designGolden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(designGolden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/promolift -run Analyze -update)", err)
	}
	if string(want) != out {
		t.Errorf("output differs from %s (rerun with -update if intended):\n%s", filepath.Base(designGolden), out)
	}
}

// TestAnalyzeEngines checks the engine-specific fields with --in.
func TestAnalyzeEngines(t *testing.T) {
	raw, err := os.ReadFile(designExample)
	if err != nil {
		t.Fatal(err)
	}
	var base map[string]any
	if err := json.Unmarshal(raw, &base); err != nil {
		t.Fatal(err)
	}
	// Add CUPED pre-period statistics to the revenue metric.
	rev := base["metrics"].([]any)[1].(map[string]any)["stats"].(map[string]any)
	rev["control"].(map[string]any)["pre_sum"] = 480000.0
	rev["control"].(map[string]any)["pre_sum_squares"] = 3.9e7
	rev["control"].(map[string]any)["pre_cross_sum"] = 3.2e7
	rev["ten_off"].(map[string]any)["pre_sum"] = 485000.0
	rev["ten_off"].(map[string]any)["pre_sum_squares"] = 3.95e7
	rev["ten_off"].(map[string]any)["pre_cross_sum"] = 3.4e7
	tests := []struct {
		engine string
		fields []string
	}{
		{"bayesian", []string{"bayesian.chance_to_win", "bayesian.risk_control", "bayesian.risk_treatment", "bayesian.ci"}},
		{"sequential", []string{"sequential.ci", "sequential.p_value", "sequential.halfwidth"}},
		{"frequentist", nil},
	}
	for _, tc := range tests {
		t.Run(tc.engine, func(t *testing.T) {
			base["engine"] = tc.engine
			b, _ := json.Marshal(base)
			path := filepath.Join(t.TempDir(), "in.json")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := runCmd(t, "analyze", []string{"--in", path}, "")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var doc any
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"metrics.0.comparisons.0.", "metrics.1.comparisons.0."} {
				requireFields(t, doc, prefixed(m, tc.fields)...)
			}
			requireFields(t, doc, "metrics.1.comparisons.0.cuped.theta", "metrics.1.comparisons.0.cuped.variance_reduction")
			if tc.engine == "bayesian" {
				requireFields(t, doc, "metrics.0.comparisons.0.bayesian.beta_binomial.chance_to_win")
			}
		})
	}
}

// TestAnalyzeErrors checks exit codes and field-named messages.
func TestAnalyzeErrors(t *testing.T) {
	good, err := os.ReadFile(designExample)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		msg   string
	}{
		{"inconsistent sum_squares", nil, strings.Replace(string(good), `"sum_squares": 4.6e7`, `"sum_squares": 1e6`, 1), 2,
			"analyze: metrics[1].stats.ten_off.sum_squares: inconsistent with sum (must be >= sum²/n)"},
		{"wrong type", nil, strings.Replace(string(good), `"units": 10000, "promotion_cost": 20000`, `"units": "many", "promotion_cost": 20000`, 1), 2,
			"analyze: variants[1].units: must be a number"},
		{"missing control", nil, strings.Replace(string(good), `"control": "control",`, ``, 1), 2, "analyze: control: missing"},
		{"not json", nil, "hello", 2, "invalid JSON"},
		{"bad flag", []string{"--bogus"}, "", 2, "flag provided but not defined"},
		{"extra arg", []string{"x"}, "", 2, "unexpected argument"},
		{"missing file", []string{"--in", filepath.Join(t.TempDir(), "nope.json")}, "", 2, "nope.json"},
		{"help", []string{"-h"}, "", 0, "usage: promolift analyze"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, "analyze", tc.args, tc.stdin)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d containing %q", code, stderr, tc.code, tc.msg)
			}
			if code != 0 && out != "" {
				t.Errorf("stdout not empty on error: %q", out)
			}
		})
	}
}

// TestPlan checks `promolift plan` against closed-form values (the same
// numbers are in stats/testdata/checks.json from the Python generator).
func TestPlan(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]float64
	}{
		{"proportion", `{"metric":"proportion","baseline":0.1,"treatment":0.11,"alpha":0.05,"power":0.8}`,
			map[string]float64{"n_per_variant": 14751, "n_total": 29502, "mde_absolute": 0.01}},
		{"mean", `{"metric":"mean","sigma":20,"delta":1}`, map[string]float64{"n_per_variant": 6280, "n_total": 12560, "mde_absolute": 1}},
		{"mde", `{"metric":"proportion","baseline":0.1,"n_per_variant":10000}`, map[string]float64{"n_per_variant": 10000, "n_total": 20000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, "plan", []string{"--compact"}, tc.in)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"n_per_variant", "n_total", "mde_absolute", "mde_relative"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("missing %s", k)
				}
			}
			for k, w := range tc.want {
				if g, _ := doc[k].(float64); g < w*(1-1e-12) || g > w*(1+1e-12) {
					t.Errorf("%s = %v, want %v", k, doc[k], w)
				}
			}
		})
	}
	code, _, stderr := runCmd(t, "plan", nil, `{"metric":"proportion","baseline":1.5,"treatment":0.2}`)
	if code != 2 || !strings.Contains(stderr, "plan: baseline:") {
		t.Errorf("exit %d %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "plan", nil, `{"metric":"mean","sigma":"x"}`)
	if code != 2 || !strings.Contains(stderr, "plan: sigma: must be a number") {
		t.Errorf("exit %d %q", code, stderr)
	}
}
