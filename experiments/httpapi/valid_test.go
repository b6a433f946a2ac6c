package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSON(t *testing.T) {
	for _, s := range []string{
		``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-01`, `1.5e3x`,
		`true`, `tru`, `truex`, `false`, `null`, `nul`, `NaN`, ` {"a" : [1, 2.5 , "x"] } `, `{"a"}`, `{"a":}`, `{,}`, `[,]`,
		`[1,]`, `{"a":1,}`, `[1 2]`, `{"a":1 "b":2}`, `{1:2}`, `[}`, `{]`, `[[]`, `[]]`, `{} {}`, `"\u00e9\"\\\/\b\f\n\r\t"`,
		`"\x"`, `"\u12"`, `"\u12g4"`, `"\uABCD"`, "\"\x01\"", "\"\x7f\"", "\"\xff\xfe\"", "\"\t\"", `"abc`, `"abc\`, "\ufeff{}",
		"[\r\n\t1]", `{"a":{"b":{"c":[{"d":null}]}}}`, `[1,[2,[3]],{"x":[]}]`, `{"a":1}}`, `[1]]`,
		strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000), strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001),
		strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000), strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat(`}`, 10001),
		strings.Repeat(`[{"a":`, 5000) + `1` + strings.Repeat(`}]`, 5000), strings.Repeat(`[{"a":`, 5001) + `1` + strings.Repeat(`}]`, 5001),
	} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

// FuzzValidJSON checks validJSON against json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9",true,null,{}]}`, `[01]`, `"\u12"`, `{"a":1,}`, "\"\xff\"", `-0.0E+0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}
