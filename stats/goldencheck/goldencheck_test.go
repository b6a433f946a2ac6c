package goldencheck

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONProblems(t *testing.T) {
	golden := []byte(`{"a": {"b": [1.5, {"c": 2}], "s": "text", "ok": true, "none": null}, "d": 1e-20}`)
	all := map[string]Check{"a.b.0": {1.5, 1e-9}, "a.b.1.c": {2 + 1e-12, 1e-9}, "d": {1e-20, 1e-9}}
	for _, c := range []struct {
		name   string
		checks map[string]Check
		want   []string // substrings of the problems, in order
	}{
		{"all checked", all, nil},
		{"number off its check", with(all, "a.b.0", Check{1.6, 1e-9}), []string{"a.b.0: number 1.5, independent check value 1.6"}},
		{"tiny number off", with(all, "d", Check{1.1e-20, 1e-9}), []string{"d: number 1e-20"}},
		{"number without check", without(all, "a.b.1.c"), []string{"a.b.1.c: number 2 has no independent check value"}},
		{"check without number", with(all, "a.none", Check{0, 1e-9}), []string{"a.none: check value 0 has no number"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := JSONProblems(golden, c.checks)
			if err != nil {
				t.Fatal(err)
			}
			expectProblems(t, got, c.want)
		})
	}
}

func TestCSVProblems(t *testing.T) {
	golden := []byte("dim,slice,v,mean,flag,err\nhour,14,a,0.5,true,\nhour,15,a,2,false,zero_variance\n")
	all := map[string]Check{"hour|14|a|mean": {0.5, 1e-9}, "hour|15|a|mean": {2, 1e-9}}
	for _, c := range []struct {
		name   string
		checks map[string]Check
		want   []string
	}{
		{"all checked, key cells that look numeric are keys", all, nil},
		{"cell off", with(all, "hour|15|a|mean", Check{2.0001, 1e-9}), []string{"hour|15|a|mean: cell 2, independent check value 2.0001"}},
		{"cell without check", without(all, "hour|14|a|mean"), []string{"hour|14|a|mean: cell 0.5 has no independent check value"}},
		{"check without cell", with(all, "hour|16|a|mean", Check{1, 1e-9}), []string{"hour|16|a|mean: check value 1 has no cell"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := CSVProblems(golden, []string{"dim", "slice", "v"}, c.checks)
			if err != nil {
				t.Fatal(err)
			}
			expectProblems(t, got, c.want)
		})
	}
	if _, err := CSVProblems(golden, []string{"nope"}, all); err == nil {
		t.Error("a missing key column is no error")
	}
}

func TestTextProblems(t *testing.T) {
	golden := []byte(`{"reason": "ROI 178.0% [-43.7%, +399.6%] (p = 0.042)", "at": "2026-03-08T12:00:00.000001Z",
		"slice": "00/email", "name": "no digits", "n": 3}`)
	all := map[string][]float64{
		"reason": {177.97492, -43.68595, 399.63579, 0.0420271},
		"at":     {2026, 3, 8, 12, 0, 0.000001},
		"slice":  {0},
	}
	for _, c := range []struct {
		name string
		text map[string][]float64
		want []string
	}{
		{"all checked, hyphens of a date are no signs", all, nil},
		{"rounded the other way", withText(all, "reason", []float64{177.94, -43.68595, 399.63579, 0.0420271}),
			[]string{`reason: string "ROI 178.0% [-43.7%, +399.6%] (p = 0.042)" shows 178.0, independent check value 177.94`}},
		{"sign lost", withText(all, "reason", []float64{177.97492, 43.68595, 399.63579, 0.0420271}), []string{"shows -43.7"}},
		{"a number more", withText(all, "slice", []float64{0, 1}), []string{`slice: string "00/email" shows 1 numbers`}},
		{"string without check", withText(all, "slice", nil), []string{`slice: string "00/email" shows numbers without`}},
		{"check without string", withText(all, "gone", []float64{1}), []string{"gone: check values [1] have no string"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := TextProblems(golden, c.text)
			if err != nil {
				t.Fatal(err)
			}
			expectProblems(t, got, c.want)
		})
	}
}

func withText(m map[string][]float64, k string, v []float64) map[string][]float64 {
	out := map[string][]float64{}
	for kk, vv := range m {
		if kk != k {
			out[kk] = vv
		}
	}
	if v != nil {
		out[k] = v
	}
	return out
}

func TestCheckUnmarshal(t *testing.T) {
	var f struct{ C map[string]Check }
	if err := json.Unmarshal([]byte(`{"C": {"x": [1.25, 1e-9]}}`), &f); err != nil || f.C["x"] != (Check{1.25, 1e-9}) {
		t.Fatalf("%v %v", f, err)
	}
	for _, bad := range []string{`{"C": {"x": 1}}`, `{"C": {"x": [1, 2]}}`, `{"C": {"x": [1, -1e-9]}}`} {
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func with(m map[string]Check, k string, c Check) map[string]Check {
	out := without(m, "")
	out[k] = c
	return out
}

func without(m map[string]Check, k string) map[string]Check {
	out := map[string]Check{}
	for kk, v := range m {
		if kk != k {
			out[kk] = v
		}
	}
	return out
}

func expectProblems(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %d like %q", got, len(want), want)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %q, want it to contain %q", got[i], want[i])
		}
	}
}
