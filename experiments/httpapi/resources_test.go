package httpapi

import (
	"regexp"
	"strings"
	"testing"
)

// requestIDField matches the request_id member of a problem, which differs
// from one request to the next.
var requestIDField = regexp.MustCompile(`,"request_id":"[^"]*"`)

// TestSharedHandlerBodies pins, byte for byte, the answers that the
// experiment, flag and customer-limits handlers build with the helpers of
// resources.go: an empty list for another environment, the not-found
// problem of a resource of another environment, and the problem of a PUT
// whose body renames the resource.
func TestSharedHandlerBodies(t *testing.T) {
	e := newEnv(t, Config{})
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, designExperiment), 201)
	wantStatus(t, e.do("POST", "/api/v1/flags", e.admin, designFlag), 201)
	w := e.do("POST", "/api/v1/keys", e.admin, `{"name": "staging admin", "scope": "admin", "environment": "staging"}`)
	wantStatus(t, w, 201)
	staging := decode(t, w)["token"].(string)

	cases := []struct {
		method, path, token string
		body                any
		status              int
		want                string
	}{
		{"GET", "/api/v1/experiments?environment=production", staging, nil, 200, `{"experiments":[]}`},
		{"GET", "/api/v1/experiments", staging, nil, 200, `{"experiments":[]}`},
		{"GET", "/api/v1/flags?environment=production", staging, nil, 200, `{"flags":[]}`},
		{"GET", "/api/v1/flags", staging, nil, 200, `{"flags":[]}`},
		{"GET", "/api/v1/flags?environment=staging", e.admin, nil, 200, `{"flags":[]}`},
		{"GET", "/api/v1/experiments/spring-sale", staging, nil, 404,
			`{"type":"urn:promolift:problem:experiment_not_found","title":"Not Found","status":404,"detail":"experiment \"spring-sale\" not found","code":"experiment_not_found"}`},
		{"GET", "/api/v1/experiments/spring-sale/customer-limits", staging, nil, 404,
			`{"type":"urn:promolift:problem:experiment_not_found","title":"Not Found","status":404,"detail":"experiment \"spring-sale\" not found","code":"experiment_not_found"}`},
		// The report of an experiment of another environment is answered
		// like the report of one that does not exist.
		{"GET", "/api/v1/experiments/spring-sale/report", staging, nil, 404,
			`{"type":"urn:promolift:problem:experiment_not_found","title":"Not Found","status":404,"detail":"experiment \"spring-sale\" not found","code":"experiment_not_found"}`},
		{"GET", "/api/v1/experiments/spring-salf/report", e.admin, nil, 404,
			`{"type":"urn:promolift:problem:experiment_not_found","title":"Not Found","status":404,"detail":"experiment \"spring-salf\" not found","code":"experiment_not_found"}`},
		{"GET", "/api/v1/flags/spring-sale-gate", staging, nil, 404,
			`{"type":"urn:promolift:problem:flag_not_found","title":"Not Found","status":404,"detail":"flag \"spring-sale-gate\" not found","code":"flag_not_found"}`},
		{"PUT", "/api/v1/experiments/other", e.admin, designExperiment, 422,
			`{"type":"urn:promolift:problem:key_mismatch","title":"Unprocessable Entity","status":422,"detail":"key: the body's key \"spring-sale\" differs from the URL's \"other\"; keys cannot be renamed","code":"key_mismatch","field":"key","errors":[{"field":"key","code":"key_mismatch","detail":"the body's key \"spring-sale\" differs from the URL's \"other\"; keys cannot be renamed"}]}`},
		{"PUT", "/api/v1/flags/other", e.admin, designFlag, 422,
			`{"type":"urn:promolift:problem:key_mismatch","title":"Unprocessable Entity","status":422,"detail":"key: the body's key \"spring-sale-gate\" differs from the URL's \"other\"; keys cannot be renamed","code":"key_mismatch","field":"key","errors":[{"field":"key","code":"key_mismatch","detail":"the body's key \"spring-sale-gate\" differs from the URL's \"other\"; keys cannot be renamed"}]}`},
		// A body that does not decode is reported before the key is compared.
		{"PUT", "/api/v1/flags/other", e.admin, `{"key": "x", "key": "y"}`, 400,
			`{"type":"urn:promolift:problem:duplicate_key","title":"Bad Request","status":400,"detail":"key: appears more than once in its object","code":"duplicate_key","field":"key","errors":[{"field":"key","code":"duplicate_key","detail":"key: appears more than once in its object"}]}`},
	}
	for _, c := range cases {
		w := e.do(c.method, c.path, c.token, c.body)
		got := requestIDField.ReplaceAllString(w.Body.String(), "")
		if w.Code != c.status || got != c.want {
			t.Errorf("%s %s: %d %s\nwant %d %s", c.method, c.path, w.Code, got, c.status, c.want)
		}
	}

	// A PUT without a key takes the URL's.
	body := strings.Replace(designFlag, `"key": "spring-sale-gate",`, "", 1)
	w = e.do("PUT", "/api/v1/flags/spring-sale-gate", e.admin, body)
	wantStatus(t, w, 200)
	if m := decode(t, w); m["key"] != "spring-sale-gate" || m["revision"] != float64(2) {
		t.Fatalf("flag updated without a key in its body: %v", m)
	}
}

func TestResponsesNeverNil(t *testing.T) {
	out := responses([]int(nil), func(n int) string { return "" })
	if out == nil || len(out) != 0 {
		t.Fatalf("responses(nil) = %#v, want an empty non-nil slice", out)
	}
	b, err := marshal(responses([]int{1, 2}, func(n int) int { return 10 * n }))
	if err != nil || string(b) != "[10,20]" {
		t.Fatalf("responses: %s %v", b, err)
	}
}
