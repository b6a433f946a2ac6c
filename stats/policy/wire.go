package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// This file holds the JSON wire types of `promolift policy` and of the
// policy endpoint (DESIGN.md §10): a contract, add fields, never rename.

// Input is the document Learn reads: per-cell, per-arm, per-fold
// sufficient statistics of one experiment.
type Input struct {
	// Alpha is the two-sided level of the CIs, in (0,1); nil means 0.05.
	Alpha *float64 `json:"alpha,omitempty"`
	// Metric names the objective y (a label: net_revenue, revenue or
	// conversion); the sums are of it.
	Metric string `json:"metric,omitempty"`
	// Features are the attributes of a cell, outermost first: a cell's
	// parent drops the last one.
	Features []string `json:"features"`
	// Arms are the experiment's arms, control first, with their design
	// (randomization) weights, any positive scale. The estimators weigh by
	// the arms' shares of the cells' units; the design weights are what
	// those shares are checked against (WarnArmShares).
	Arms []Arm `json:"arms"`
	// Folds is K, the number of hash-assigned folds (at least 2).
	Folds int `json:"folds"`
	// Budget is the promotion spend allowed for PopulationUnits units;
	// nil: no budget.
	Budget *float64 `json:"budget,omitempty"`
	// PopulationUnits are the units the budget and the spend are for; 0
	// means the units of the cells.
	PopulationUnits float64 `json:"population_units,omitempty"`
	// Cells hold the statistics; (segment, variant, fold) should be
	// unique (repeats are added up).
	Cells []CellStats `json:"cells"`
}

// Arm is one arm of the experiment.
type Arm struct {
	Key    string  `json:"key"`
	Weight float64 `json:"weight"`
}

// CellStats are the sufficient statistics of the units of one cell, arm
// and fold.
type CellStats struct {
	// Segment maps every feature to the cell's value.
	Segment map[string]string `json:"segment"`
	Variant string            `json:"variant"`
	Fold    int               `json:"fold"`
	// Units is n; Sum and SumSquares are Σy and Σy² of the objective.
	Units      float64 `json:"units"`
	Sum        float64 `json:"sum"`
	SumSquares float64 `json:"sum_squares"`
	// Converted counts the units with a conversion; Cost is their
	// promotion spend, both summed over the units.
	Converted float64 `json:"converted"`
	Cost      float64 `json:"cost"`
}

// Estimate is a point estimate with its standard error and CI.
type Estimate struct {
	Estimate float64    `json:"estimate"`
	SE       float64    `json:"se"`
	CI       [2]float64 `json:"ci"`
}

// Output is Learn's answer. Money is per unit unless named otherwise, in
// the unit of the sums (minor units).
type Output struct {
	Metric   string   `json:"metric"`
	Features []string `json:"features"`
	Folds    int      `json:"folds"`
	Alpha    float64  `json:"alpha"`
	// Units are the units of the cells.
	Units float64 `json:"units"`
	// Rules map every cell seen to its arm (fitted on all folds).
	Rules []Rule `json:"rules"`
	// Value is the cross-fitted incremental objective per unit of the
	// learned policy against control for everyone.
	Value Estimate `json:"value"`
	// BestSingle is the best single promotion for everyone and its
	// cross-fitted value against control.
	BestSingle BestSingle `json:"best_single"`
	// GainOverBestSingle is Value − BestSingle.Value, paired per unit.
	GainOverBestSingle Estimate `json:"gain_over_best_single"`
	// Spend is the policy's expected promotion spend for PopulationUnits
	// units; SpendPerUnit per unit.
	Spend           float64  `json:"spend"`
	SpendPerUnit    float64  `json:"spend_per_unit"`
	Budget          *float64 `json:"budget,omitempty"`
	PopulationUnits float64  `json:"population_units"`
	// Lambda is the Lagrange multiplier of the budget (0 when the budget
	// does not bind or there is none).
	Lambda float64 `json:"lambda"`
	// Bootstrap is the number of bootstrap replicates behind the SE of
	// Value and GainOverBestSingle (0: the fixed-policy SE; see the
	// package documentation).
	Bootstrap int `json:"bootstrap,omitempty"`
	// Curve is the cross-fitted uplift (Qini) curve.
	Curve    []CurvePoint `json:"curve"`
	Error    string       `json:"error,omitempty"`
	Warnings []string     `json:"warnings"`
}

// BestSingle is the best single promotion for everyone.
type BestSingle struct {
	Variant      string   `json:"variant"`
	Value        Estimate `json:"value"`
	SpendPerUnit float64  `json:"spend_per_unit"`
}

// Rule is the policy's arm for one cell.
type Rule struct {
	Segment map[string]string `json:"segment"`
	Variant string            `json:"variant"`
	// Effect is the chosen arm's shrunk effect against control (0 for
	// control).
	Effect       Estimate `json:"effect"`
	Units        float64  `json:"units"`
	SpendPerUnit float64  `json:"spend_per_unit"`
	// Arms are every non-control arm's effects in the cell.
	Arms []ArmEffect `json:"arms"`
}

// ArmEffect is one arm's effects against control in one cell.
type ArmEffect struct {
	Variant string  `json:"variant"`
	Units   float64 `json:"units"`
	// Effect is the shrunk effect on the objective; Raw the cell's own
	// difference in means (nil when an arm of the cell has no unit).
	Effect Estimate  `json:"effect"`
	Raw    *Estimate `json:"raw"`
	// Conversion is the shrunk effect on the conversion rate.
	Conversion   Estimate `json:"conversion"`
	SpendPerUnit float64  `json:"spend_per_unit"`
}

// CurvePoint is one point of the uplift curve: targeting the Share of
// units with the largest predicted effects brings Incremental per unit of
// the whole population.
type CurvePoint struct {
	Share       float64 `json:"share"`
	Incremental float64 `json:"incremental"`
}

// Error codes and warnings of the output.
const (
	ErrNoUnits         = "no_units"
	ErrNoControl       = "no_control_units"
	WarnBudgetInfeas   = "budget_infeasible"
	WarnFewUnitsInFold = "low_sample"
	// WarnArmShares: the arms' shares of the units differ from the design
	// weights beyond chance (χ² test, p < 0.001), as when units of an arm
	// whose budget ran out were held back; the value weighs by the shares.
	WarnArmShares = "arm_shares_differ_from_design"
)

// DecodeInput reads an Input from JSON. Unknown fields are allowed
// (forward compatibility); a value of the wrong type, trailing data or
// malformed JSON gives ValidationErrors naming the field. Learn validates
// the values.
func DecodeInput(r io.Reader) (Input, error) {
	var in Input
	dec := json.NewDecoder(r)
	err := dec.Decode(&in)
	if err == nil {
		if _, e := dec.Token(); e != io.EOF {
			return in, ValidationErrors{{Field: "", Message: "unexpected data after the JSON document"}}
		}
		return in, nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return in, ValidationErrors{{Field: te.Field, Message: fmt.Sprintf("must be %s, not %s", te.Type, te.Value)}}
	}
	return in, ValidationErrors{{Field: "", Message: "malformed JSON: " + err.Error()}}
}
