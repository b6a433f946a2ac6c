package stats

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const validDoc = `{"alpha":0.05,"control":"control",
 "variants":[{"key":"control","weight":0.5,"units":100},{"key":"ten_off","weight":0.5,"units":100,"promotion_cost":50}],
 "metrics":[{"key":"purchase","type":"proportion","stats":{"control":{"sum":10},"ten_off":{"sum":12}}},
            {"key":"revenue","type":"mean","stats":{"control":{"sum":500,"sum_squares":4000},"ten_off":{"sum":550,"sum_squares":4600}}}],
 "future_field": {"ignored": true}}`

// TestValidation checks that bad input is rejected with the JSON path of
// the offending field.
func TestValidation(t *testing.T) {
	tests := []struct {
		name, doc, field, msg string
	}{
		{"wrong type", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":"x"`, 1), "alpha", "must be a number"},
		{"wrong type nested", strings.Replace(validDoc, `"sum":12}`, `"sum":"12"}`, 1), "metrics[0].stats.ten_off.sum", "must be a number"},
		{"wrong type variant", strings.Replace(validDoc, `"units":100,"promotion_cost"`, `"units":[1],"promotion_cost"`, 1), "variants[1].units", "must be a number"},
		{"malformed", `{"alpha":`, "", "invalid JSON"},
		{"trailing", validDoc + ` {}`, "", "unexpected data"},
		{"alpha range", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":1.5`, 1), "alpha", "(0,1)"},
		{"alpha zero", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0`, 1), "alpha", "(0,1)"},
		{"missing control", strings.Replace(validDoc, `"control":"control",`, ``, 1), "control", "missing"},
		{"unknown control", strings.Replace(validDoc, `"control":"control",`, `"control":"nope",`, 1), "control", "not among"},
		{"unknown variant in stats", strings.Replace(validDoc, `"ten_off":{"sum":12}`, `"ten_off":{"sum":12},"other":{"sum":1}`, 1), "metrics[0].stats.other", "unknown variant"},
		{"missing variant stats", strings.Replace(validDoc, `,"ten_off":{"sum":12}`, ``, 1), "metrics[0].stats.ten_off", "missing"},
		{"negative units", strings.Replace(validDoc, `"units":100}`, `"units":-1}`, 1), "variants[0].units", ">= 0"},
		{"fractional units", strings.Replace(validDoc, `"units":100}`, `"units":100.5}`, 1), "variants[0].units", "whole number"},
		{"units beyond 2^53", strings.Replace(validDoc, `"units":100}`, `"units":18446744073709551616}`, 1), "variants[0].units", "2^53"},
		{"negative conversions", strings.Replace(validDoc, `"sum":10}`, `"sum":-1}`, 1), "metrics[0].stats.control.sum", ">= 0"},
		{"sum > units", strings.Replace(validDoc, `"sum":12}`, `"sum":101}`, 1), "metrics[0].stats.ten_off.sum", "exceed units"},
		{"sum_squares inconsistent", strings.Replace(validDoc, `"sum_squares":4600`, `"sum_squares":3000`, 1), "metrics[1].stats.ten_off.sum_squares", "inconsistent with sum"},
		{"sum_squares missing", strings.Replace(validDoc, `,"sum_squares":4600`, ``, 1), "metrics[1].stats.ten_off.sum_squares", "missing"},
		{"bad engine", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"engine":"magic"`, 1), "engine", "frequentist"},
		{"bad correction", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"correction":"bonf"`, 1), "correction", "holm"},
		{"bad type", strings.Replace(validDoc, `"type":"proportion"`, `"type":"count"`, 1), "metrics[0].type", "proportion"},
		{"bad role", strings.Replace(validDoc, `"type":"proportion"`, `"type":"proportion","role":"main"`, 1), "metrics[0].role", "primary"},
		{"roi metric unknown", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"roi_metric":"x"`, 1), "roi_metric", "unknown"},
		{"roi metric not mean", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"roi_metric":"purchase"`, 1), "roi_metric", "mean"},
		{"personalization unknown", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"personalization":{"personalized":"x","generic":"control"}`, 1), "personalization.personalized", "unknown"},
		{"partial cuped", strings.Replace(validDoc, `"sum_squares":4600}`, `"sum_squares":4600,"pre_sum":3}`, 1), "metrics[1].stats.ten_off", "together"},
		{"bad alternative", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"alternative":"up"`, 1), "alternative", "greater"},
		{"one-sided with alpha 0.6", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.6,"alternative":"less"`, 1), "alternative", "alpha < 0.5"},
		{"power mde", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"power":{"mde_relative":0}`, 1), "power.mde_relative", "> 0"},
		{"power target", strings.Replace(validDoc, `"alpha":0.05`, `"alpha":0.05,"power":{"mde_relative":0.1,"target_power":1}`, 1), "power.target_power", "(0,1)"},
		{"quantile level missing", strings.Replace(validDoc, `"type":"mean"`, `"type":"quantile"`, 1), "metrics[1].quantile", "missing"},
		{"quantile on a mean", strings.Replace(validDoc, `"type":"mean"`, `"type":"mean","quantile":0.5`, 1), "metrics[1].quantile", "quantile metrics only"},
		{"quantile value missing", strings.Replace(validDoc, `"type":"mean"`, `"type":"quantile","quantile":0.5`, 1), "metrics[1].stats.control.quantile_value", "missing"},
		{"quantile bounds", strings.Replace(validDoc, `"key":"revenue","type":"mean","stats":{"control":{"sum":500,"sum_squares":4000}`,
			`"key":"revenue","type":"quantile","quantile":0.5,"stats":{"control":{"quantile_value":5,"quantile_lower":6,"quantile_upper":7}`, 1),
			"metrics[1].stats.control.quantile_lower", "<= quantile_value"},
		{"strata and stats", strings.Replace(validDoc, `"type":"proportion","stats"`, `"type":"proportion","strata":{"a":{}},"stats"`, 1), "metrics[0].strata", "not both"},
		{"strata units", strings.Replace(validDoc, `"type":"proportion","stats":{"control":{"sum":10},"ten_off":{"sum":12}}`,
			`"type":"proportion","strata":{"rfm":{"control":{"sum":10},"ten_off":{"units":100,"sum":12}}}`, 1), "metrics[0].strata.rfm.control.units", "missing"},
		{"strata variant missing", strings.Replace(validDoc, `"type":"proportion","stats":{"control":{"sum":10},"ten_off":{"sum":12}}`,
			`"type":"proportion","strata":{"rfm":{"control":{"units":100,"sum":10}}}`, 1), "metrics[0].strata.rfm.ten_off", "missing"},
		{"strata on a ratio", strings.Replace(validDoc, `"type":"proportion","stats":{"control":{"sum":10},"ten_off":{"sum":12}}`,
			`"type":"ratio","strata":{"rfm":{}}`, 1), "metrics[0].strata", "proportion and mean"},
		{"proportion cuped partial", strings.Replace(validDoc, `"ten_off":{"sum":12}`, `"ten_off":{"sum":12,"pre_sum":3}`, 1), "metrics[0].stats.ten_off", "together"},
		{"ratio pre field on a mean", strings.Replace(validDoc, `"sum_squares":4600}`, `"sum_squares":4600,"pre_denominator_sum":3}`, 1), "metrics[1].stats.ten_off.pre_denominator_sum", "ratio metrics only"},
		{"duplicate variant", strings.Replace(validDoc, `"key":"ten_off","weight"`, `"key":"control","weight"`, 1), "variants[1].key", "duplicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := DecodeAnalyzeInput(strings.NewReader(tc.doc))
			if err == nil {
				_, err = Analyze(in)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v (%T), want a ValidationError", err, err)
			}
			if ve.Field != tc.field || !strings.Contains(ve.Message, tc.msg) {
				t.Errorf("got %q, want field %q with %q", ve.Error(), tc.field, tc.msg)
			}
		})
	}
	t.Run("every field at fault", func(t *testing.T) {
		doc := strings.NewReplacer(`"alpha":0.05`, `"alpha":0.05,"alternative":"sideways","power":{"mde_relative":-1}`,
			`"units":100}`, `"units":-3}`,
			`"sum":12}`, `"sum":101}`,
			`"type":"mean"`, `"type":"quantile","quantile":0.5,"lower_is_better":true`).Replace(validDoc)
		in, err := DecodeAnalyzeInput(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Analyze(in)
		var ves ValidationErrors
		if !errors.As(err, &ves) {
			t.Fatalf("got %v (%T), want ValidationErrors", err, err)
		}
		var fields []string
		for _, ve := range ves {
			fields = append(fields, ve.Field)
		}
		want := []string{"alternative", "power.mde_relative", "variants[0].units"}
		if strings.Join(fields, " ") != strings.Join(want, " ") {
			t.Errorf("fields %v, want %v (variant errors stop before the metrics)", fields, want)
		}
		doc = strings.NewReplacer(`"sum":12}`, `"sum":101}`,
			`"type":"mean"`, `"type":"quantile","quantile":1.5`).Replace(validDoc)
		in, _ = DecodeAnalyzeInput(strings.NewReader(doc))
		_, err = Analyze(in)
		fields = nil
		if errors.As(err, &ves) {
			for _, ve := range ves {
				fields = append(fields, ve.Field)
			}
		}
		want = []string{"metrics[0].stats.ten_off.sum", "metrics[1].quantile"}
		if strings.Join(fields, " ") != strings.Join(want, " ") {
			t.Errorf("fields %v, want %v", fields, want)
		}
	})
	t.Run("valid with unknown field", func(t *testing.T) {
		in, err := DecodeAnalyzeInput(strings.NewReader(validDoc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Analyze(in); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("NaN from Go callers", func(t *testing.T) {
		nan := math.NaN()
		_, err := Analyze(AnalyzeInput{Alpha: &nan})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "alpha" {
			t.Errorf("got %v", err)
		}
		in, _ := DecodeAnalyzeInput(strings.NewReader(validDoc))
		in.Variants[1].PromotionCost = math.Inf(1)
		if _, err := Analyze(in); err == nil || !strings.Contains(err.Error(), "variants[1].promotion_cost") {
			t.Errorf("got %v", err)
		}
	})
}

// TestEdgeCases checks the error-code contract on degenerate data.
func TestEdgeCases(t *testing.T) {
	doc := func(ctrl, trt string, typ string) string {
		return `{"control":"a","engine":"bayesian","variants":[{"key":"a","weight":1,"units":40},{"key":"b","weight":1,"units":40}],
		"metrics":[{"key":"m","type":"` + typ + `","stats":{"a":` + ctrl + `,"b":` + trt + `}}]}`
	}
	tests := []struct {
		name, doc, err string
		warn           bool
		significant    bool
	}{
		{"zero conversions both", doc(`{"sum":0}`, `{"sum":0}`, "proportion"), "baseline_zero", true, false},
		{"zero control conversions", doc(`{"sum":0}`, `{"sum":9}`, "proportion"), "baseline_zero", true, true},
		{"0/40 vs 40/40", doc(`{"sum":0}`, `{"sum":40}`, "proportion"), "zero_variance", true, false},
		{"all converted vs 30", doc(`{"sum":40}`, `{"sum":30}`, "proportion"), "", true, true},
		{"constant equal", doc(`{"sum":80,"sum_squares":160}`, `{"sum":80,"sum_squares":160}`, "mean"), "", false, false},
		{"constant different", doc(`{"sum":80,"sum_squares":160}`, `{"sum":120,"sum_squares":360}`, "mean"), "zero_variance", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := DecodeAnalyzeInput(strings.NewReader(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			out, err := Analyze(in)
			if err != nil {
				t.Fatal(err)
			}
			checkOutput(t, out)
			c := out.Metrics[0].Comparisons[0]
			got := ""
			if c.Error != nil {
				got = *c.Error
			}
			if got != tc.err {
				t.Errorf("error %q, want %q", got, tc.err)
			}
			hasWarn := len(c.Warnings) > 0 && c.Warnings[0] == WarnLowSample
			if hasWarn != tc.warn {
				t.Errorf("warnings %v", c.Warnings)
			}
			if c.Significant != tc.significant {
				t.Errorf("significant %v, want %v (p %v)", c.Significant, tc.significant, c.AdjustedPValue)
			}
		})
	}
	t.Run("no units", func(t *testing.T) {
		in, _ := DecodeAnalyzeInput(strings.NewReader(strings.Replace(doc(`{"sum":0}`, `{"sum":3}`, "proportion"), `"units":40}`, `"units":0}`, 1)))
		out, err := Analyze(in)
		if err != nil {
			t.Fatal(err)
		}
		if c := out.Metrics[0].Comparisons[0]; c.Error == nil || *c.Error != "no_units" {
			t.Errorf("got %+v", c)
		}
		checkOutput(t, out)
	})
	t.Run("n=1 mean", func(t *testing.T) {
		in, _ := DecodeAnalyzeInput(strings.NewReader(strings.Replace(doc(`{"sum":2,"sum_squares":4}`, `{"sum":50,"sum_squares":100}`, "mean"), `"units":40}`, `"units":1}`, 1)))
		out, err := Analyze(in)
		if err != nil {
			t.Fatal(err)
		}
		if c := out.Metrics[0].Comparisons[0]; c.Error == nil || *c.Error != "insufficient_sample" {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("nonpositive cost", func(t *testing.T) {
		r, err := ROI(Effect{Estimate: 2, CI: [2]float64{1, 3}}, 100, 0)
		if err != ErrNonpositiveCost || r.IncrementalRevenue != 200 || r.Net != 200 {
			t.Errorf("got %+v %v", r, err)
		}
	})
}

// BenchmarkAnalyze measures Analyze on 20 metrics × 5 variants (frequentist
// and Bayesian engines; the contract target is < 2 ms/op).
func BenchmarkAnalyze(b *testing.B) {
	for _, engine := range []string{"frequentist", "bayesian", "sequential"} {
		in := benchInput(engine)
		b.Run(engine, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Analyze(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchInput(engine string) AnalyzeInput {
	in := AnalyzeInput{Control: "v0", Engine: engine}
	for i := 0; i < 5; i++ {
		in.Variants = append(in.Variants, VariantInput{Key: "v" + string(rune('0'+i)), Weight: 1, Units: 20000 + float64(i*37), PromotionCost: 1000})
	}
	for j := 0; j < 20; j++ {
		m := MetricInput{Key: "m" + string(rune('a'+j)), Role: "secondary", Stats: map[string]ArmStats{}}
		if j == 0 {
			m.Role = "primary"
		}
		if j >= 18 {
			m.Role = "guardrail"
		}
		switch j % 3 {
		case 0:
			m.Type = "proportion"
		case 1:
			m.Type = "mean"
		default:
			m.Type = "ratio"
		}
		for i, v := range in.Variants {
			n := v.Units
			mu := 50 + float64(i+j)
			s := ArmStats{Sum: n * mu, SumSquares: f64(n*mu*mu + (n-1)*400)}
			switch m.Type {
			case "proportion":
				s = ArmStats{Sum: math.Round(n * (0.1 + 0.002*float64(i)))}
			case "ratio":
				s.DenominatorSum, s.DenominatorSumSquares, s.CrossSum = f64(2*n), f64(4*n+(n-1)), f64(2*n*mu+(n-1)*10)
			case "mean":
				if j%2 == 1 {
					s.PreSum, s.PreSumSquares, s.PreCrossSum = f64(n*40), f64(n*1600+(n-1)*300), f64(n*40*mu+(n-1)*250)
				}
			}
			m.Stats[v.Key] = s
		}
		in.Metrics = append(in.Metrics, m)
	}
	in.ROIMetric = "mb"
	in.Personalization = &PersonalizationInput{Personalized: "v1", Generic: "v0"}
	return in
}
