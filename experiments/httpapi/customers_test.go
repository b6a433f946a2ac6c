package httpapi

import (
	"strings"
	"testing"
)

func TestCustomerRoutesNeedTheirScopes(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		method, path string
		body         any
		allowed      map[string]bool // token name -> allowed
	}{
		{"PUT", "/api/v1/customers/c1/consent", `{"promotions": false}`, map[string]bool{"admin": true, "sdk": true}},
		{"DELETE", "/api/v1/customers/c1", nil, map[string]bool{"admin": true}},
		{"PUT", "/api/v1/cap-groups/promos", `{"max_exposures": 3, "window_hours": 168}`, map[string]bool{"admin": true}},
	}
	tokens := map[string]string{"admin": e.admin, "sdk": e.sdk, "analyst": e.analyst}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			p := problem(t, e.do(tt.method, tt.path, "", tt.body), 401)
			if p.Code != "missing_key" {
				t.Fatalf("no key: code %q", p.Code)
			}
			problem(t, e.do(tt.method, tt.path, "pl_nope0000_not-a-real-secret-key", tt.body), 401)
			for name, tok := range tokens {
				w := e.do(tt.method, tt.path, tok, tt.body)
				if tt.allowed[name] {
					wantStatus(t, w, 200)
				} else if p := problem(t, w, 403); p.Code != "insufficient_scope" {
					t.Fatalf("%s key: code %q", name, p.Code)
				}
			}
		})
	}
}

func TestConsentOptOutOverHTTP(t *testing.T) {
	e := newEnv(t, Config{})
	e.startedExperiment("spring-sale")
	w := e.do("PUT", "/api/v1/customers/cust-9/consent", e.sdk, `{"promotions": false}`)
	wantStatus(t, w, 200)
	if m := decode(t, w); m["promotions"] != false || m["id"] != "cust-9" {
		t.Fatalf("consent reply %v", m)
	}
	w = e.do("POST", "/api/v1/assign", e.sdk, `{"unit_id": "cust-9", "attributes": {"country": "KR"}, "experiments": ["spring-sale"]}`)
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"opted_out"`) || !strings.Contains(w.Body.String(), `"variant":"control"`) {
		t.Fatalf("assign of an opted-out customer: %s", w.Body.String())
	}
}

func TestCustomerRoutesRejectBadBodies(t *testing.T) {
	e := newEnv(t, Config{})
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"consent missing promotions", "PUT", "/api/v1/customers/c1/consent", `{}`, 422, "promotions"},
		{"consent wrong type", "PUT", "/api/v1/customers/c1/consent", `{"promotions": "no"}`, 400, "promotions"},
		{"consent not JSON", "PUT", "/api/v1/customers/c1/consent", `{"promotions": `, 400, "body"},
		{"consent empty body", "PUT", "/api/v1/customers/c1/consent", ``, 400, "body"},
		{"consent long id", "PUT", "/api/v1/customers/" + long + "/consent", `{"promotions": true}`, 422, "id"},
		{"cap missing max", "PUT", "/api/v1/cap-groups/promos", `{"window_hours": 168}`, 422, "max_exposures"},
		{"cap zero max", "PUT", "/api/v1/cap-groups/promos", `{"max_exposures": 0, "window_hours": 168}`, 422, "max_exposures"},
		{"cap fractional max", "PUT", "/api/v1/cap-groups/promos", `{"max_exposures": 1.5, "window_hours": 168}`, 400, "max_exposures"},
		{"cap missing window", "PUT", "/api/v1/cap-groups/promos", `{"max_exposures": 3}`, 422, "window_hours"},
		{"cap negative window", "PUT", "/api/v1/cap-groups/promos", `{"max_exposures": 3, "window_hours": -1}`, 422, "window_hours"},
		{"cap bad name", "PUT", "/api/v1/cap-groups/-bad!", `{"max_exposures": 3, "window_hours": 1}`, 422, "name"},
		{"erase long id", "DELETE", "/api/v1/customers/" + long, ``, 422, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" || tt.method == "PUT" {
				body = tt.body
			}
			p := problem(t, e.do(tt.method, tt.path, e.admin, body), tt.status)
			if p.Field != tt.field {
				t.Fatalf("field %q, want %q (%+v)", p.Field, tt.field, p)
			}
		})
	}
}

func TestCapGroupAndErasureOverHTTP(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.do("PUT", "/api/v1/cap-groups/promos", e.admin, `{"max_exposures": 3, "window_hours": 168}`)
	wantStatus(t, w, 200)
	if m := decode(t, w); m["name"] != "promos" || m["max_exposures"] != 3.0 || m["window_hours"] != 168.0 {
		t.Fatalf("cap group reply %v", m)
	}
	w = e.do("GET", "/api/v1/cap-groups/promos", e.analyst, nil)
	wantStatus(t, w, 200)
	problem(t, e.do("GET", "/api/v1/cap-groups/nope", e.analyst, nil), 404)

	body := experimentBody("capped")
	body["cap_group"] = "promos"
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, body), 201)
	w = e.do("GET", "/api/v1/experiments/capped/customer-limits", e.analyst, nil)
	wantStatus(t, w, 200)
	if m := decode(t, w); m["cap_group"] != "promos" || m["capped_units"] != 0.0 {
		t.Fatalf("customer limits %v", m)
	}
	problem(t, e.do("GET", "/api/v1/experiments/capped/customer-limits", e.sdk, nil), 403)

	// An SDK key may withdraw consent, never reinstate it (docs/security.md).
	wantStatus(t, e.do("PUT", "/api/v1/customers/gone-1/consent", e.sdk, `{"promotions": false}`), 200)
	if p := problem(t, e.do("PUT", "/api/v1/customers/gone-1/consent", e.sdk, `{"promotions": true}`), 403); p.Code != "consent_grant_needs_admin" {
		t.Fatalf("SDK key reinstating consent: %+v", p)
	}
	wantStatus(t, e.do("PUT", "/api/v1/customers/gone-1/consent", e.admin, `{"promotions": true}`), 200)
	w = e.do("DELETE", "/api/v1/customers/gone-1", e.admin, nil)
	wantStatus(t, w, 200)
	m := decode(t, w)
	subject, _ := m["subject"].(string)
	if m["erased"] != true || !strings.HasPrefix(subject, "hmac-sha256:") || strings.Contains(w.Body.String(), "gone-1") {
		t.Fatalf("erasure reply %s", w.Body.String())
	}
	w = e.do("GET", "/api/v1/audit", e.admin, nil)
	wantStatus(t, w, 200)
	if strings.Contains(w.Body.String(), "gone-1") || !strings.Contains(w.Body.String(), subject) {
		t.Fatalf("the audit log shows the customer ID or lacks the erasure: %s", w.Body.String())
	}
}
