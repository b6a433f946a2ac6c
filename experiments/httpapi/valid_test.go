package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// TestValidJSON checks that decodeJSON refuses as invalid_json exactly
// what encoding/json's json.Valid refuses (on UTF-8), but for lone UTF-16
// surrogate escapes, which encode no character and which it refuses too.
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
		`"\ud800"`, `"\udc00\ud800"`, `"\ud83d\ude00"`, `{"a":"\uDBFF"}`,
	} {
		if msg := checkValid([]byte(s)); msg != "" {
			t.Errorf("%.60q: %s", s, msg)
		}
	}
}

// checkValid compares decodeJSON with json.Valid on data; "" when they
// agree.
func checkValid(data []byte) string {
	if !utf8.Valid(data) {
		return "" // refused before decoding
	}
	errs := decodeJSON(data, new(any), jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true)))
	invalid := len(errs) == 1 && errs[0].Code == "invalid_json" && errs[0].Field == "body"
	switch {
	case invalid && json.Valid(data) && !(strings.Contains(errs[0].Detail, "surrogate") && bytes.Contains(bytes.ToLower(data), []byte(`\ud`))):
		return fmt.Sprintf("refused as %+v, json.Valid accepts it", errs)
	case !invalid && !json.Valid(data):
		return fmt.Sprintf("accepted (%+v), json.Valid refuses it", errs)
	}
	return ""
}

// FuzzValidJSON checks what decodeJSON refuses as not JSON against
// json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9",true,null,{}]}`, `[01]`, `"\u12"`, `{"a":1,}`, "\"\xff\"", `-0.0E+0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if msg := checkValid(data); msg != "" {
			t.Fatalf("%q: %s", data, msg)
		}
	})
}
