package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// ValidationError is bad input: Field is the JSON path of the offending
// field (e.g. "metrics[1].stats.ten_off.sum_squares"), Message says why.
type ValidationError struct {
	Field   string
	Message string
}

// Error returns "field: message" (or the message alone for the document).
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ValidationErrors are the problems of one input, at most one per field,
// in the order found. errors.As finds the first as a *ValidationError.
type ValidationErrors []*ValidationError

// Error joins the problems with "; ".
func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// As sets a **ValidationError target to the first problem.
func (v ValidationErrors) As(target any) bool {
	if t, ok := target.(**ValidationError); ok && len(v) > 0 {
		*t = v[0]
		return true
	}
	return false
}

// add appends err (a *ValidationError) unless its field already has a
// problem.
func (v ValidationErrors) add(err error) ValidationErrors {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		ve = &ValidationError{Message: err.Error()}
	}
	for _, e := range v {
		if e.Field == ve.Field {
			return v
		}
	}
	return append(v, ve)
}

func verr(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// DecodeAnalyzeInput reads an AnalyzeInput from JSON. Unknown fields are
// allowed (forward compatibility); a value of the wrong type, trailing data
// or malformed JSON gives a *ValidationError naming the field. It does not
// validate values; Analyze does.
func DecodeAnalyzeInput(r io.Reader) (AnalyzeInput, error) {
	var in AnalyzeInput
	data, err := io.ReadAll(r)
	if err != nil {
		return in, err
	}
	var top map[string]json.RawMessage
	if err := decodeAt(data, "", &top); err != nil {
		return in, err
	}
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"alpha", &in.Alpha}, {"engine", &in.Engine}, {"sequential_tuning", &in.SequentialTuning},
		{"correction", &in.Correction}, {"control", &in.Control}, {"roi_metric", &in.ROIMetric},
		{"roi_variant", &in.ROIVariant}, {"personalization", &in.Personalization}, {"prior", &in.Prior},
		{"alternative", &in.Alternative}, {"power", &in.Power},
	} {
		if raw, ok := top[f.name]; ok {
			if err := decodeAt(raw, f.name, f.dst); err != nil {
				return in, err
			}
		}
	}
	if raw, ok := top["variants"]; ok {
		var items []json.RawMessage
		if err := decodeAt(raw, "variants", &items); err != nil {
			return in, err
		}
		in.Variants = make([]VariantInput, len(items))
		for i, it := range items {
			if err := decodeAt(it, fmt.Sprintf("variants[%d]", i), &in.Variants[i]); err != nil {
				return in, err
			}
		}
	}
	if raw, ok := top["metrics"]; ok {
		var items []json.RawMessage
		if err := decodeAt(raw, "metrics", &items); err != nil {
			return in, err
		}
		in.Metrics = make([]MetricInput, len(items))
		for i, it := range items {
			path := fmt.Sprintf("metrics[%d]", i)
			var m struct {
				Key           string                                `json:"key"`
				Type          string                                `json:"type"`
				Role          string                                `json:"role"`
				LowerIsBetter bool                                  `json:"lower_is_better"`
				Quantile      *float64                              `json:"quantile"`
				Stats         map[string]json.RawMessage            `json:"stats"`
				Strata        map[string]map[string]json.RawMessage `json:"strata"`
			}
			if err := decodeAt(it, path, &m); err != nil {
				return in, err
			}
			mi := MetricInput{Key: m.Key, Type: m.Type, Role: m.Role, LowerIsBetter: m.LowerIsBetter, Quantile: m.Quantile}
			var err error
			if mi.Stats, err = decodeArms(m.Stats, path+".stats"); err != nil {
				return in, err
			}
			if m.Strata != nil {
				mi.Strata = make(map[string]map[string]ArmStats, len(m.Strata))
				for name, arms := range m.Strata {
					if mi.Strata[name], err = decodeArms(arms, path+".strata."+name); err != nil {
						return in, err
					}
					if mi.Strata[name] == nil {
						mi.Strata[name] = map[string]ArmStats{}
					}
				}
			}
			in.Metrics[i] = mi
		}
	}
	return in, nil
}

// decodeArms decodes per-variant statistics found at path.
func decodeArms(raw map[string]json.RawMessage, path string) (map[string]ArmStats, error) {
	if raw == nil {
		return nil, nil
	}
	out := make(map[string]ArmStats, len(raw))
	for k, r := range raw {
		var s ArmStats
		if err := decodeAt(r, path+"."+k, &s); err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

// DecodePlanInput reads a PlanInput from JSON with field-named type errors.
func DecodePlanInput(r io.Reader) (PlanInput, error) {
	var in PlanInput
	data, err := io.ReadAll(r)
	if err != nil {
		return in, err
	}
	return in, decodeAt(data, "", &in)
}

// decodeAt unmarshals raw into dst and turns type errors into
// ValidationErrors whose field is prefixed with path.
func decodeAt(raw []byte, path string, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	err := dec.Decode(dst)
	if err == nil {
		if _, e := dec.Token(); e != io.EOF {
			return verr(path, "unexpected data after the JSON value")
		}
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f := path
		if te.Field != "" {
			if f != "" {
				f += "."
			}
			f += te.Field
		}
		want := te.Type.String()
		switch {
		case strings.Contains(want, "float64"):
			want = "a number"
		case strings.Contains(want, "string"):
			want = "a string"
		case strings.Contains(want, "int"):
			want = "an integer"
		case strings.Contains(want, "[]"):
			want = "an array"
		case strings.Contains(want, "map"), strings.Contains(want, "struct"), strings.Contains(want, "stats."):
			want = "an object"
		case strings.Contains(want, "bool"):
			want = "a boolean"
		}
		return verr(f, "must be %s, got %s", want, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return verr(path, "invalid JSON at offset %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return verr(path, "invalid JSON: unexpected end of input")
	}
	return verr(path, "%v", err)
}

// rounding tolerance for Σy² ≥ (Σy)²/n consistency checks.
const sumSquaresTol = 1e-9

func checkNum(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return verr(field, "must be a finite number")
	}
	return nil
}

// maxUnits is 2^53, the largest count up to which every whole number is
// exactly a float64.
const maxUnits = 1 << 53

// checkUnits checks that a unit count is a whole number in [0, 2^53].
func checkUnits(field string, n float64) error {
	if err := checkNum(field, n); err != nil {
		return err
	}
	if n < 0 {
		return verr(field, "must be >= 0")
	}
	if n != math.Trunc(n) {
		return verr(field, "must be a whole number of units")
	}
	if n > maxUnits {
		return verr(field, "must be at most 2^53 (9007199254740992)")
	}
	return nil
}

// checkSquares checks Q ≥ S²/n (beyond rounding) and Q ≥ 0.
func checkSquares(field, sumName string, q, s, n float64) error {
	if err := checkNum(field, q); err != nil {
		return err
	}
	if q < 0 {
		return verr(field, "must be >= 0")
	}
	if n > 0 {
		need := s * (s / n)
		if q < need && need-q > sumSquaresTol*math.Max(need, 1e-300)+1e-12 {
			return verr(field, "inconsistent with %s (must be >= %s²/n)", sumName, sumName)
		}
	}
	return nil
}

// checkCross checks the Cauchy–Schwarz bound on a cross sum.
func checkCross(field string, sxy, sx, qx, sy, qy, n float64) error {
	if err := checkNum(field, sxy); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	c := sxy - sx*(sy/n)
	bound := centred(qx, sx, n) * centred(qy, sy, n)
	if c*c > bound*(1+1e-6)+1e-9*(math.Abs(sxy)+1) {
		return verr(field, "inconsistent with the sums and sums of squares (|cov| > sd·sd)")
	}
	return nil
}

// Validate checks an AnalyzeInput and returns its problems as
// ValidationErrors (errors.As finds the first as a *ValidationError), or
// nil.
func Validate(in AnalyzeInput) error {
	_, err := normalize(in)
	return err
}
