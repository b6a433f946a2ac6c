package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"status":  func(s any) string { return httpapi.StatusLabel(fmt.Sprint(s)) },
	"meaning": func(s any) string { return httpapi.StatusMeaning(fmt.Sprint(s)) },
	// vf is the input name of a variant's field: vf 1 "promotion.type" is
	// "variants[1].promotion.type".
	"vf": func(i int, field string) string { return fmt.Sprintf("variants[%d].%s", i, field) },
	// cf is the input name of a targeting builder field.
	"cf":  func(i int, field string) string { return fmt.Sprintf("cond[%d].%s", i, field) },
	"val": func(f *experimentForm, field string) string { return f.value(field) },
	// errfor is the error text of field, "" when it has none.
	"errfor": errorFor,
	// unplaced are the errors of fields the form has no input for.
	"unplaced": func(errs []httpapi.FieldError, f *experimentForm) []httpapi.FieldError {
		var out []httpapi.FieldError
		for _, e := range errs {
			if !formHas(f, e.Field) {
				out = append(out, e)
			}
		}
		return out
	},
	"seq": func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"hours": func(d time.Duration) string { return fmt.Sprintf("%.0f h", d.Hours()) },
	"pct":   func(v float64) string { return pctOf(v) },
	"str":   func(b []byte) string { return string(b) },
	// banditBudget is a bandit's budget in the experiment's currency.
	"banditBudget": func(e *experiments.Experiment) string {
		return httpapi.Money(e.Currency())(float64(e.Allocation.Budget))
	},
	"plain": httpapi.PlainCode,
	// fld is one input of the experiment form with its value and error.
	"fld": func(d formData, name, label, kind, hint string) inputView {
		return inputView{Name: name, Label: label, Kind: kind, Hint: hint, Value: d.Form.value(name),
			Error: errorFor(d.Errors, name)}
	},
	"sel": func(d formData, name, label string, options ...string) inputView {
		return inputView{Name: name, Label: label, Kind: "select", Value: d.Form.value(name),
			Error: errorFor(d.Errors, name), Options: options}
	},
}

// inputView is one labelled input and its error, for the "input"
// template.
type inputView struct {
	Name, Label, Kind, Hint, Value, Error string
	Options                               []string // of a select
}

func errorFor(errs []httpapi.FieldError, field string) string {
	var msgs []string
	for _, e := range errs {
		if e.Field == field {
			msgs = append(msgs, e.Detail)
		}
	}
	return strings.Join(msgs, "; ")
}

// formFields are the inputs of the experiment form other than the
// variant rows and the builder.
var formFields = []string{"key", "name", "hypothesis", "owner", "environment", "unit_attribute", "coverage",
	"condition", "primary_metric", "secondary_metrics", "guardrail_metrics", "attribution_window_hours",
	"segments", "cap_group", "engine", "alternative", "lower_is_better_metrics", "planned_mde", "min_roi", "layer",
	"allocation.mode", "allocation.update_every", "allocation.min_weight", "allocation.budget", "allocation.flight"}

// variantFields are the inputs of a variant row.
var variantFields = []string{"key", "name", "weight", "promotion.type", "promotion.value", "promotion.cost_rule",
	"promotion.unit_cost", "promotion.currency", "promotion.budget"}

// formHas reports whether the form shows an input named field.
func formHas(f *experimentForm, field string) bool {
	if field == "variants" {
		return true
	}
	for _, n := range formFields {
		if n == field {
			return true
		}
	}
	for i := range max(f.Variants, 2) {
		for _, n := range variantFields {
			if field == fmt.Sprintf("variants[%d].%s", i, n) {
				return true
			}
		}
	}
	for i := range f.Conds {
		if field == fmt.Sprintf("cond[%d].value", i) || field == fmt.Sprintf("cond[%d].op", i) {
			return true
		}
	}
	return false
}
