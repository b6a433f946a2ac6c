package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/promolift/promolift/experiments"
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

// A unit id with '/' is accepted at ingest, so the customers' routes take
// it URL-encoded (%2F): it can be opted out and erased, on both stores.
// Every other route still treats %2F as the separator it decodes to.
func TestCustomerRoutesTakeSlashUnitIDs(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			store := openBadInputStore(t, kind)
			e := newEnvOn(t, store) // erasure_test.go
			const unit, other = "shop/7c1e/cust", "shop/7c1e/keep"
			const path = "/api/v1/customers/shop%2F7c1e%2Fcust"
			if r := postEvents(t, e, conversion("c1", unit, 1999), conversion("c2", other, 500)); r.Accepted != 2 {
				t.Fatalf("ingest: %+v", r)
			}

			w := e.do("PUT", path+"/consent", e.sdk, `{"promotions": false}`)
			wantStatus(t, w, 200)
			if m := decode(t, w); m["id"] != unit || m["promotions"] != false {
				t.Fatalf("consent reply %v", m)
			}
			out, err := store.(experiments.CustomerStore).OptedOut(ctx, []string{unit, other})
			if err != nil {
				t.Fatal(err)
			}
			if !out[unit] || out[other] {
				t.Fatalf("opted out %v, want only %q", out, unit)
			}

			w = e.do("DELETE", path, e.admin, nil)
			wantStatus(t, w, 200)
			var er ErasureResponse
			if err := json.Unmarshal(w.Body.Bytes(), &er); err != nil {
				t.Fatal(err)
			}
			if er.Rows["events"] != 1 || er.Rows["customer_consent"] != 1 {
				t.Fatalf("erased rows %v", er.Rows)
			}
			tf := store.(interface {
				TablesContaining(ctx context.Context, needle string) ([]string, error)
			})
			if left, err := tf.TablesContaining(ctx, unit); err != nil || len(left) != 0 {
				t.Fatalf("after erasure %q is still in %q (%v)", unit, left, err)
			}
			if kept, err := tf.TablesContaining(ctx, other); err != nil || len(kept) == 0 {
				t.Fatalf("the other customer lost its rows: %q (%v)", kept, err)
			}

			// Unencoded slashes name no route, and elsewhere %2F still splits.
			for _, p := range []struct{ method, path string }{
				{"DELETE", "/api/v1/customers/shop/7c1e/cust"},
				{"GET", "/api/v1/cap-groups/a%2Fb"},
			} {
				if got := problem(t, e.do(p.method, p.path, e.admin, nil), 404); got.Code != "route_not_found" {
					t.Fatalf("%s %s: %+v, want route_not_found", p.method, p.path, got)
				}
			}
		})
	}
}
