package httpapi

import (
	"bytes"
	"crypto/tls"
	"encoding/csv"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

// TestReportCSVNeutralizesFormulas: text cells that a spreadsheet would
// read as formulas (OWASP: beginning with = + - @, tab or CR) get a leading
// apostrophe; numbers, negative ones included, stay numbers.
func TestReportCSVNeutralizesFormulas(t *testing.T) {
	r := &experiments.Report{Analysis: stats.AnalyzeOutput{Control: "+cmd|' /C calc'!A0", Metrics: []stats.MetricOutput{{
		Key: "=HYPERLINK(\"http://x\")", Type: "mean", Role: "@SUM(1+1)",
		Arms: []stats.ArmOutput{{Variant: "+cmd|' /C calc'!A0", Units: 3, Sum: -12, Mean: -4}, {Variant: "\tx", Units: 2, Sum: 1, Mean: 0.5}},
	}}}}
	out, err := ReportCSV(r)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		row, col int
		want     string
	}{
		{"metric =", 1, 2, "'=HYPERLINK(\"http://x\")"},
		{"role @", 1, 4, "'@SUM(1+1)"},
		{"variant +", 1, 5, "'+cmd|' /C calc'!A0"},
		{"variant tab", 2, 5, "'\tx"},
		{"negative sum stays a number", 1, 8, "-12"},
		{"negative mean stays a number", 1, 9, "-4"},
		{"plain text untouched", 1, 0, "all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rows[tt.row][tt.col]; got != tt.want {
				t.Errorf("row %d col %s = %q, want %q", tt.row, ReportCSVColumns[tt.col], got, tt.want)
			}
		})
	}
}

// TestErrorsAreNotSniffedAndEchoNoPath: problem documents carry
// X-Content-Type-Options: nosniff, and a 404 does not echo the raw path.
func TestErrorsAreNotSniffedAndEchoNoPath(t *testing.T) {
	e := newEnv(t, Config{})
	for _, tt := range []struct{ name, method, path, token string }{
		{"unknown route", "GET", "/api/v1/%3Cscript%3Ealert(1)%3C/script%3E", ""},
		{"missing key", "GET", "/api/v1/experiments", ""},
		{"missing experiment", "GET", "/api/v1/experiments/nope", adminToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(tt.method, tt.path, tt.token, nil)
			if w.Code < 400 || w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%d, X-Content-Type-Options %q", w.Code, w.Header().Get("X-Content-Type-Options"))
			}
			if bytes.Contains(w.Body.Bytes(), []byte("script")) {
				t.Errorf("the answer echoes the path: %s", w.Body)
			}
		})
	}
}

// TestReportAPITokenSetsNoCookie: ?token= on the JSON report answers with
// the report and sets no cookie (pages set it and redirect).
func TestReportAPITokenSetsNoCookie(t *testing.T) {
	e := newEnv(t, Config{})
	e.startedExperiment("spring-sale")
	w := e.do("GET", "/api/v1/experiments/spring-sale/report?token="+e.analyst, "", nil)
	if w.Code != 200 || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("JSON report with ?token=: %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
	}
	w = e.do("GET", "/experiments/spring-sale?token="+e.analyst, "", nil)
	if w.Code != 303 || w.Header().Get("Set-Cookie") == "" {
		t.Fatalf("report page with ?token=: %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
	}
}

// TestHSTSOverTLSOnly: answers served over TLS carry
// Strict-Transport-Security; plain HTTP ones do not.
func TestHSTSOverTLSOnly(t *testing.T) {
	e := newEnv(t, Config{})
	for _, overTLS := range []bool{false, true} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		if overTLS {
			req.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if got := w.Header().Get("Strict-Transport-Security"); (got != "") != overTLS {
			t.Errorf("TLS %v: Strict-Transport-Security %q", overTLS, got)
		}
	}
}

// TestAttributeValuesCapped: an assign or OFREP request with a text
// attribute over experiments.MaxAttributeValueBytes is refused at once,
// naming every field at fault, before any condition ($regex) runs.
func TestAttributeValuesCapped(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 4 << 20})
	b := experimentBody("regex-exp")
	b["condition"] = map[string]any{"email": map[string]any{"$regex": "(a|aa)*b$"}}
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, b), 201)
	wantStatus(t, e.do("POST", "/api/v1/experiments/regex-exp/start", e.admin, nil), 200)
	big := strings.Repeat("a", 900<<10)
	w := e.do("POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": "u1",
		"attributes": map[string]any{"email": big, "tags": []any{"ok", big}}})
	p := problem(t, w, 422)
	var fields []string
	for _, fe := range p.Errors {
		fields = append(fields, fe.Field)
	}
	if !slices.Equal(fields, []string{"attributes.email", "attributes.tags[1]"}) {
		t.Errorf("assign: fields %v, want attributes.email and attributes.tags[1]", fields)
	}
	w = e.do("POST", "/ofrep/v1/evaluate/flags/regex-exp", e.sdk, map[string]any{"context": map[string]any{"targetingKey": "u1", "email": big}})
	if w.Code != 400 || !strings.Contains(w.Body.String(), "email") {
		t.Errorf("OFREP: %d %.300s", w.Code, w.Body)
	}
}
