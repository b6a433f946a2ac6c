package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/promolift/promolift/experiments"
)

// Issue 22: for an experiment hashed on device_id, DELETE
// /api/v1/customers/{id} erases the rows keyed by the customer's devices
// too (linked at assignment, OFREP evaluation and by conversions sent with
// customer_id), the email sent as an attribute was never stored, another
// customer keeps everything, and neither the answer, the audit log nor the
// server log names a unit. On both stores.
func TestErasureOfDeviceKeyedUnitsOverHTTP(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			store := openBadInputStore(t, kind)
			e := newEnvOn(t, store)
			body := experimentBody("by-device")
			body["unit_attribute"] = "device_id"
			body["segments"] = []string{"tier"}
			delete(body, "condition")
			wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, body), 201)
			wantStatus(t, e.do("POST", "/api/v1/experiments/by-device/start", e.admin, nil), 200)

			type customer struct{ id, device, tablet, phone, email string }
			use := func(c customer) {
				t.Helper()
				w := e.do("POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": c.id, "experiments": []string{"by-device"},
					"attributes": map[string]any{"device_id": c.device, "email": c.email, "tier": "gold"}})
				wantStatus(t, w, 200)
				if !strings.Contains(w.Body.String(), `"hash_attribute":"device_id"`) {
					t.Fatalf("assign: %s", w.Body.String())
				}
				wantStatus(t, e.do("POST", "/ofrep/v1/evaluate/flags/by-device", e.sdk, map[string]any{
					"context": map[string]any{"targetingKey": c.id, "device_id": c.tablet, "email": c.email}}), 200)
				buy := conversion("buy-"+c.device, c.device, 5000)
				buy["attributes"] = map[string]string{"email": c.email}
				call := conversion("buy-"+c.phone, c.phone, 3000)
				call["customer_id"] = c.id
				if r := postEvents(t, e, buy, call); r.Accepted != 2 {
					t.Fatalf("events: %+v", r)
				}
			}
			alice := customer{"cust-alice-5f21", "dev-alice-c03e", "tab-alice-77a9", "phone-alice-e4d2", "alice.91b7@example.test"}
			bob := customer{"cust-bob-2d8c", "dev-bob-4a6f", "tab-bob-0b13", "phone-bob-c8e5", "bob.6d30@example.test"}
			use(alice)
			use(bob)

			tf := store.(interface {
				TablesContaining(ctx context.Context, needle string) ([]string, error)
			})
			where := func(values ...string) map[string][]string {
				t.Helper()
				out := map[string][]string{}
				for _, v := range values {
					got, err := tf.TablesContaining(ctx, v)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) > 0 {
						out[v] = got
					}
				}
				return out
			}
			all := func(c customer) []string { return []string{c.id, c.device, c.tablet, c.phone, c.email} }
			before := where(all(alice)...)
			if len(before) != 4 || before[alice.email] != nil {
				t.Fatalf("before erasure %v: want the ids and devices stored, the email not", before)
			}
			bobBefore := where(all(bob)...)

			w := e.do("DELETE", "/api/v1/customers/"+alice.id, e.admin, nil)
			wantStatus(t, w, 200)
			var er ErasureResponse
			if err := json.Unmarshal(w.Body.Bytes(), &er); err != nil {
				t.Fatal(err)
			}
			if !er.Erased || er.Units != 4 || er.Rows["events"] != 4 || er.Rows["customer_links"] != 3 {
				t.Fatalf("erasure reply %s, want 4 units (the customer, 2 devices from evaluations, 1 from a conversion)", w.Body.String())
			}
			if got := where(all(alice)...); len(got) != 0 {
				t.Fatalf("after erasure: %v", got)
			}
			if got := where(all(bob)...); !equalTables(got, bobBefore) {
				t.Fatalf("bob's rows after erasing alice: %v, before %v", got, bobBefore)
			}
			w = e.do("GET", "/api/v1/audit", e.admin, nil)
			wantStatus(t, w, 200)
			for _, v := range all(alice) {
				if strings.Contains(w.Body.String(), v) || strings.Contains(e.logs.String(), v) {
					t.Fatalf("%q is in the audit log or the server log", v)
				}
			}
			if !strings.Contains(strings.ReplaceAll(w.Body.String(), `\"`, `"`), `"units":4`) {
				t.Fatalf("the audit entry lacks the count of units: %s", w.Body.String())
			}
		})
	}
}

func equalTables(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}

// newEnvOn is newEnv over store (of either kind), with the admin and sdk
// keys and the server's log in e.logs.
func newEnvOn(t *testing.T, store dbStore) *env {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := experiments.NewService(store, log)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: svc, h: New(svc, Config{}, log), logs: logs, admin: adminToken}
	var err error
	if _, e.sdk, err = svc.CreateKey(ctx, experiments.Principal{}, "sdk", experiments.ScopeSDK, ""); err != nil {
		t.Fatal(err)
	}
	return e
}
