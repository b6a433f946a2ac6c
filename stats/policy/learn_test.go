package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

type checkCase struct {
	Name     string `json:"name"`
	Input    Input  `json:"input"`
	Expected struct {
		Value      Estimate `json:"value"`
		BestSingle struct {
			Variant string   `json:"variant"`
			Value   Estimate `json:"value"`
		} `json:"best_single"`
		Gain             Estimate       `json:"gain_over_best_single"`
		Spend            float64        `json:"spend"`
		SpendPerUnit     float64        `json:"spend_per_unit"`
		Lambda           float64        `json:"lambda"`
		BudgetInfeasible bool           `json:"budget_infeasible"`
		ArmSharesDiffer  bool           `json:"arm_shares_differ"`
		Units            float64        `json:"units"`
		Curve            [][2]float64   `json:"curve"`
		Rules            []expectedRule `json:"rules"`
		FixedValues      [][]float64    `json:"fixed_values"`
	} `json:"expected"`
}

type expectedRule struct {
	Segment map[string]string `json:"segment"`
	Variant string            `json:"variant"`
	Arms    []struct {
		Variant      string      `json:"variant"`
		Effect       [2]float64  `json:"effect"`
		Conversion   [2]float64  `json:"conversion"`
		Raw          *[2]float64 `json:"raw"`
		SpendPerUnit float64     `json:"spend_per_unit"`
	} `json:"arms"`
}

func loadChecks(t *testing.T) []checkCase {
	t.Helper()
	data, err := os.ReadFile("testdata/checks.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []checkCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.15g, want %.15g", what, got, want)
	}
}

func nearEstimate(t *testing.T, what string, got, want Estimate) {
	t.Helper()
	near(t, what+".estimate", got.Estimate, want.Estimate)
	near(t, what+".se", got.SE, want.SE)
	near(t, what+".ci[0]", got.CI[0], want.CI[0])
	near(t, what+".ci[1]", got.CI[1], want.CI[1])
}

// TestLearnChecks compares Learn with the independent implementation of
// testdata/gen_checks.py (effects and shrinkage, the Lagrangian budget
// policy, the cross-fitted doubly robust scores unit by unit, the curve,
// the planted values of the bootstrap's world). The SEs compared are the
// fixed-policy ones (learn without bootstrap replicates); the bootstrap's
// are checked in bootstrap_test.go.
func TestLearnChecks(t *testing.T) {
	for _, tc := range loadChecks(t) {
		t.Run(tc.Name, func(t *testing.T) {
			out, err := learn(tc.Input, 0)
			if err != nil {
				t.Fatal(err)
			}
			if out.Error != "" {
				t.Fatalf("error %s", out.Error)
			}
			want := tc.Expected
			near(t, "units", out.Units, want.Units)
			nearEstimate(t, "value", out.Value, want.Value)
			if out.BestSingle.Variant != want.BestSingle.Variant {
				t.Errorf("best single %q, want %q", out.BestSingle.Variant, want.BestSingle.Variant)
			}
			nearEstimate(t, "best_single.value", out.BestSingle.Value, want.BestSingle.Value)
			nearEstimate(t, "gain", out.GainOverBestSingle, want.Gain)
			near(t, "spend", out.Spend, want.Spend)
			near(t, "spend_per_unit", out.SpendPerUnit, want.SpendPerUnit)
			near(t, "lambda", out.Lambda, want.Lambda)
			if infeasible := contains(out.Warnings, WarnBudgetInfeas); infeasible != want.BudgetInfeasible {
				t.Errorf("budget_infeasible %v, want %v", infeasible, want.BudgetInfeasible)
			}
			if differ := contains(out.Warnings, WarnArmShares); differ != want.ArmSharesDiffer {
				t.Errorf("%s %v, want %v", WarnArmShares, differ, want.ArmSharesDiffer)
			}
			if len(out.Curve) != len(want.Curve) {
				t.Fatalf("curve has %d points, want %d", len(out.Curve), len(want.Curve))
			}
			for i, p := range want.Curve {
				near(t, "curve share", out.Curve[i].Share, p[0])
				near(t, "curve incremental", out.Curve[i].Incremental, p[1])
			}
			if len(out.Rules) != len(want.Rules) {
				t.Fatalf("%d rules, want %d", len(out.Rules), len(want.Rules))
			}
			d := newDataset(&tc.Input)
			g, _ := d.fixedValues(d.fit(-1))
			if len(want.FixedValues) != len(d.st) {
				t.Fatalf("%d cells of fixed values, want %d", len(want.FixedValues), len(d.st))
			}
			for c, row := range want.FixedValues {
				for p, v := range row {
					var got float64
					for k := range g {
						got += g[k][c][p]
					}
					near(t, fmt.Sprintf("fixed value of arm %d in cell %d", p, c), got, v)
				}
			}
			for i, wr := range want.Rules {
				r := out.Rules[i]
				if !sameSegment(r.Segment, wr.Segment) || r.Variant != wr.Variant {
					t.Errorf("rule %d: %v → %s, want %v → %s", i, r.Segment, r.Variant, wr.Segment, wr.Variant)
				}
				for j, wa := range wr.Arms {
					a := r.Arms[j]
					near(t, "effect of "+a.Variant, a.Effect.Estimate, wa.Effect[0])
					near(t, "effect se of "+a.Variant, a.Effect.SE, wa.Effect[1])
					near(t, "conversion of "+a.Variant, a.Conversion.Estimate, wa.Conversion[0])
					near(t, "conversion se of "+a.Variant, a.Conversion.SE, wa.Conversion[1])
					near(t, "spend of "+a.Variant, a.SpendPerUnit, wa.SpendPerUnit)
					if (a.Raw == nil) != (wa.Raw == nil) {
						t.Errorf("raw of %s in %v: %v, want %v", a.Variant, r.Segment, a.Raw, wa.Raw)
					} else if a.Raw != nil {
						near(t, "raw of "+a.Variant, a.Raw.Estimate, wa.Raw[0])
						near(t, "raw se of "+a.Variant, a.Raw.SE, wa.Raw[1])
					}
				}
			}
		})
	}
}

func sameSegment(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestLearnBadInput checks that every problem is named, not only the first.
func TestLearnBadInput(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		in     Input
		fields []string
	}{
		{"empty", Input{}, []string{"arms", "folds"}},
		{"all at once", Input{Features: []string{"a", "a"}, Folds: 3,
			Arms:  []Arm{{"c", 1}, {"c", -1}},
			Cells: []CellStats{{Segment: map[string]string{"b": "x"}, Variant: "z", Fold: 7, Units: -1, Sum: nan, Converted: 3}}},
			[]string{"features[1]", "arms[1].key", "arms[1].weight", "cells[0].variant", "cells[0].fold",
				"cells[0].segment.a", "cells[0].segment.b", "cells[0].units", "cells[0].sum", "cells[0].converted"}},
		{"budget", Input{Folds: 2, Arms: []Arm{{"c", 1}, {"t", 1}}, Budget: ptr(-1)}, []string{"budget"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Learn(tc.in)
			var ve ValidationErrors
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want ValidationErrors", err)
			}
			got := map[string]bool{}
			for _, e := range ve {
				got[e.Field] = true
			}
			for _, f := range tc.fields {
				if !got[f] {
					t.Errorf("no error for %s in %v", f, err)
				}
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

// TestLearnDegenerate: no units and no control give an error code, never a
// NaN.
func TestLearnDegenerate(t *testing.T) {
	arms := []Arm{{"control", 1}, {"t", 1}}
	for _, tc := range []struct {
		name  string
		cells []CellStats
		code  string
	}{
		{"no cells", nil, ErrNoUnits},
		{"no control", []CellStats{{Variant: "t", Units: 10, Sum: 5, SumSquares: 5}}, ErrNoControl},
		{"constant outcome", []CellStats{{Variant: "t", Units: 10}, {Variant: "control", Units: 10, Fold: 1}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Learn(Input{Arms: arms, Folds: 2, Cells: tc.cells})
			if err != nil {
				t.Fatal(err)
			}
			if out.Error != tc.code {
				t.Errorf("error %q, want %q", out.Error, tc.code)
			}
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatalf("not JSON (a NaN?): %v", err)
			}
			if strings.Contains(string(b), "NaN") {
				t.Errorf("NaN in %s", b)
			}
		})
	}
}
