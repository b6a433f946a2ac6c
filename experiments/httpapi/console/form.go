package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
)

// The experiment form posts application/x-www-form-urlencoded with input
// names equal to the API's field paths ("key", "variants[0].weight",
// "variants[1].promotion.type", …). decodeExperimentForm turns it into the
// httpapi.ExperimentRequest the JSON API decodes, so that the same
// conversion and the same validation run; values that are not numbers
// where the API wants numbers are field errors named by their path.
// The allocation's inputs (allocation.mode, .update_every, .min_weight,
// .budget, .flight) become the API's allocation object when any is set.
// List fields (secondary_metrics, guardrail_metrics, segments) are
// comma-separated. The targeting builder's rows (cond[i].attr, .op,
// .value; not API fields) join the raw JSON condition under "$and".

// maxFormVariants bounds the variant rows a form may post.
const maxFormVariants = 20

// maxFormConditions bounds the targeting builder's rows.
const maxFormConditions = 20

var variantField = regexp.MustCompile(`^variants\[(\d{1,2})\]\.`)

// allocationFields are the allocation's inputs, after "allocation.".
var allocationFields = []string{"mode", "update_every", "min_weight", "budget", "flight"}

// condRow is one row of the targeting builder.
type condRow struct {
	Attr, Op, Value string
}

// builderOps are the operators the targeting builder offers; the raw
// JSON condition takes any other.
var builderOps = []struct{ Op, Label string }{
	{"$eq", "is"}, {"$ne", "is not"}, {"$in", "is one of (comma-separated)"}, {"$nin", "is none of (comma-separated)"},
	{"$gt", "greater than"}, {"$gte", "at least"}, {"$lt", "less than"}, {"$lte", "at most"},
	{"$exists", "is set"},
}

// experimentForm is the form's state: the request it decodes to, what
// was typed (so that a bad value is shown back as typed), and the
// builder's rows.
type experimentForm struct {
	Req      httpapi.ExperimentRequest
	Raw      url.Values
	Variants int
	Conds    []condRow
}

// value is what the form shows in the input named field.
func (f *experimentForm) value(field string) string { return f.Raw.Get(field) }

// decodeExperimentForm reads the posted form into an ExperimentRequest;
// the errors are the values that cannot be read.
func decodeExperimentForm(form url.Values) (*experimentForm, []httpapi.FieldError) {
	f := &experimentForm{Raw: form}
	var errs []httpapi.FieldError
	bad := func(field, what string) {
		errs = append(errs, httpapi.FieldError{Field: field, Code: "invalid_type", Detail: field + ": must be " + what})
	}
	num := func(field string) float64 {
		s := strings.TrimSpace(form.Get(field))
		if s == "" {
			return 0
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			bad(field, "a number")
		}
		return v
	}
	integer := func(field string) int64 {
		s := strings.TrimSpace(form.Get(field))
		if s == "" {
			return 0
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			bad(field, "a whole number")
		}
		return v
	}
	list := func(field string) []string {
		var out []string
		for _, p := range strings.Split(form.Get(field), ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	r := &f.Req
	text := func(field string) string { return strings.TrimSpace(form.Get(field)) }
	r.Key, r.Name, r.Hypothesis, r.Owner = text("key"), text("name"), text("hypothesis"), text("owner")
	r.Environment, r.UnitAttribute = text("environment"), text("unit_attribute")
	r.PrimaryMetric, r.CapGroup, r.Engine, r.Layer = text("primary_metric"), text("cap_group"), text("engine"), text("layer")
	r.SecondaryMetrics, r.GuardrailMetrics, r.Segments = list("secondary_metrics"), list("guardrail_metrics"), list("segments")
	r.Sticky = form.Get("sticky") != ""
	if strings.TrimSpace(form.Get("coverage")) != "" {
		c := num("coverage")
		r.Coverage = &c
	}
	r.AttributionWindowHours = int(integer("attribution_window_hours"))
	r.MinROI = num("min_roi")
	r.Alternative, r.PlannedMDE = text("alternative"), num("planned_mde")
	r.LowerIsBetterMetrics = list("lower_is_better_metrics")
	if slices.ContainsFunc(allocationFields, func(n string) bool { return text("allocation."+n) != "" }) {
		a := &httpapi.AllocationDTO{Mode: text("allocation.mode"), UpdateEvery: text("allocation.update_every"),
			Budget: integer("allocation.budget"), Flight: text("allocation.flight")}
		if text("allocation.min_weight") != "" {
			w := num("allocation.min_weight")
			a.MinWeight = &w
		}
		r.Allocation = a
	}

	rows := 0
	for name := range form {
		if m := variantField.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[1])
			rows = max(rows, i+1)
		}
	}
	rows = min(rows, maxFormVariants)
	f.Variants = rows
	for i := range rows {
		p := fmt.Sprintf("variants[%d].", i)
		v := httpapi.VariantDTO{Key: text(p + "key"), Name: text(p + "name"), Weight: num(p + "weight"),
			Promotion: httpapi.PromotionDTO{Type: text(p + "promotion.type"), Value: num(p + "promotion.value"),
				CostRule: text(p + "promotion.cost_rule"), UnitCost: integer(p + "promotion.unit_cost"),
				Currency: text(p + "promotion.currency"), Budget: integer(p + "promotion.budget")}}
		r.Variants = append(r.Variants, v)
	}

	cond, condErrs := conditionOf(form)
	errs = append(errs, condErrs...)
	r.Condition = cond
	f.Conds = condRows(form)
	return f, errs
}

// condRows reads the builder's rows (cond[0].attr …), blank ones kept so
// that the form shows them back.
func condRows(form url.Values) []condRow {
	var rows []condRow
	for i := range maxFormConditions {
		p := fmt.Sprintf("cond[%d].", i)
		if _, ok := form[p+"attr"]; !ok {
			break
		}
		rows = append(rows, condRow{Attr: strings.TrimSpace(form.Get(p + "attr")), Op: form.Get(p + "op"), Value: strings.TrimSpace(form.Get(p + "value"))})
	}
	return rows
}

// conditionOf joins the raw JSON condition and the builder's rows: the
// raw condition alone when there are no rows, else {"$and": [raw, row…]}.
// A builder value is a number when it reads as one, else a string.
func conditionOf(form url.Values) (json.RawMessage, []httpapi.FieldError) {
	raw := strings.TrimSpace(form.Get("condition"))
	var parts []any
	var errs []httpapi.FieldError
	if raw != "" {
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			// The API's validation reports it on "condition".
			return json.RawMessage(raw), nil
		}
		parts = append(parts, v)
	}
	for i, row := range condRows(form) {
		if row.Attr == "" {
			continue
		}
		field := fmt.Sprintf("cond[%d].value", i)
		if !slices.ContainsFunc(builderOps, func(o struct{ Op, Label string }) bool { return o.Op == row.Op }) {
			errs = append(errs, httpapi.FieldError{Field: fmt.Sprintf("cond[%d].op", i), Code: "unknown_operator", Detail: "pick an operator from the list"})
			continue
		}
		var arg any
		switch row.Op {
		case "$exists":
			arg = true
		case "$in", "$nin":
			vals := []any{}
			for _, p := range strings.Split(row.Value, ",") {
				if p = strings.TrimSpace(p); p != "" {
					vals = append(vals, scalar(p))
				}
			}
			if len(vals) == 0 {
				errs = append(errs, httpapi.FieldError{Field: field, Code: "required", Detail: "list at least one value, separated by commas"})
			}
			arg = vals
		default:
			if row.Value == "" {
				errs = append(errs, httpapi.FieldError{Field: field, Code: "required", Detail: "enter a value"})
			}
			arg = scalar(row.Value)
		}
		parts = append(parts, map[string]any{row.Attr: map[string]any{row.Op: arg}})
	}
	switch len(parts) {
	case 0:
		return nil, errs
	case 1:
		if raw != "" {
			return json.RawMessage(raw), errs
		}
		b, _ := json.Marshal(parts[0])
		return b, errs
	}
	b, _ := json.Marshal(map[string]any{"$and": parts})
	return b, errs
}

// scalar is s as a JSON number when it reads as one, else the string.
func scalar(s string) any {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v
	}
	return s
}

// formOf is the form of an existing experiment (to edit a draft).
func formOf(e *experiments.Experiment) *experimentForm {
	v := url.Values{}
	set := func(k, val string) { v.Set(k, val) }
	set("key", e.Key)
	set("name", e.Name)
	set("hypothesis", e.Hypothesis)
	set("owner", e.Owner)
	set("environment", e.Environment)
	set("unit_attribute", e.UnitAttribute)
	set("coverage", strconv.FormatFloat(e.Coverage, 'g', -1, 64))
	set("primary_metric", e.PrimaryMetric)
	set("secondary_metrics", strings.Join(e.SecondaryMetrics, ", "))
	set("guardrail_metrics", strings.Join(e.GuardrailMetrics, ", "))
	set("segments", strings.Join(e.Segments, ", "))
	set("attribution_window_hours", strconv.Itoa(int(e.AttributionWindow/time.Hour)))
	set("cap_group", e.CapGroup)
	set("engine", e.Engine)
	set("alternative", e.Alternative)
	set("lower_is_better_metrics", strings.Join(e.LowerIsBetterMetrics, ", "))
	if e.PlannedMDE != 0 {
		set("planned_mde", strconv.FormatFloat(e.PlannedMDE, 'g', -1, 64))
	}
	set("layer", e.Layer)
	if e.MinROI != 0 {
		set("min_roi", strconv.FormatFloat(e.MinROI, 'g', -1, 64))
	}
	if e.Sticky {
		set("sticky", "on")
	}
	if len(e.Condition) > 0 {
		set("condition", string(e.Condition))
	}
	a := httpapi.AllocationOf(e.Allocation)
	set("allocation.mode", a.Mode)
	if e.Allocation.Bandit() {
		set("allocation.update_every", a.UpdateEvery)
		set("allocation.min_weight", strconv.FormatFloat(*a.MinWeight, 'g', -1, 64))
		if a.Budget != 0 {
			set("allocation.budget", strconv.FormatInt(a.Budget, 10))
		}
		set("allocation.flight", a.Flight)
	}
	for i, va := range e.Variants {
		p := fmt.Sprintf("variants[%d].", i)
		set(p+"key", va.Key)
		set(p+"name", va.Name)
		set(p+"weight", strconv.FormatFloat(va.Weight, 'g', -1, 64))
		set(p+"promotion.type", string(va.Promotion.Type))
		if va.Promotion.Value != 0 {
			set(p+"promotion.value", strconv.FormatFloat(va.Promotion.Value, 'g', -1, 64))
		}
		set(p+"promotion.cost_rule", string(va.Promotion.CostRule))
		if va.Promotion.UnitCost != 0 {
			set(p+"promotion.unit_cost", strconv.FormatInt(va.Promotion.UnitCost, 10))
		}
		set(p+"promotion.currency", va.Promotion.Currency)
		if va.Promotion.Budget != 0 {
			set(p+"promotion.budget", strconv.FormatInt(va.Promotion.Budget, 10))
		}
	}
	return &experimentForm{Raw: v, Variants: len(e.Variants)}
}

// newForm is the blank form: two variant rows (control without a
// promotion and a treatment), half and half, and one builder row.
func newForm(env string) *experimentForm {
	v := url.Values{}
	v.Set("variants[0].key", "control")
	v.Set("variants[0].weight", "0.5")
	v.Set("variants[0].promotion.type", "none")
	v.Set("variants[1].key", "treatment")
	v.Set("variants[1].weight", "0.5")
	v.Set("variants[1].promotion.type", "percent_off")
	v.Set("attribution_window_hours", "168")
	v.Set("coverage", "1")
	v.Set("allocation.mode", experiments.AllocationFixed)
	if env != "" {
		v.Set("environment", env)
	}
	return &experimentForm{Raw: v, Variants: 2, Conds: []condRow{{}}}
}
