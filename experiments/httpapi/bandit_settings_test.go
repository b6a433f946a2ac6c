package httpapi

import "testing"

// TestBanditAllocationSettings creates a bandit experiment through the API
// on both stores and reads its allocation back (defaults filled in, sticky
// forced on), checks that a fixed experiment answers mode fixed, and that
// bad allocations are rejected naming every field at fault: 422 for bad
// values, 400 for a field the allocation does not have.
func TestBanditAllocationSettings(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			e := settingsEnv(t, kind)

			body := experimentBody("bandit")
			body["allocation"] = map[string]any{"mode": "bandit", "update_every": "90m", "budget": 500000, "flight": "168h"}
			wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, body), 201)
			got := decode(t, e.do("GET", "/api/v1/experiments/bandit", e.admin, nil))
			alloc, _ := got["allocation"].(map[string]any)
			want := map[string]any{"mode": "bandit", "update_every": "90m", "min_weight": 0.05, "budget": float64(500000), "flight": "168h"}
			for k, v := range want {
				if alloc[k] != v {
					t.Errorf("allocation.%s = %v, want %v (%v)", k, alloc[k], v, alloc)
				}
			}
			if got["sticky"] != true {
				t.Error("a bandit experiment is not sticky")
			}

			wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, experimentBody("plain")), 201)
			got = decode(t, e.do("GET", "/api/v1/experiments/plain", e.admin, nil))
			if alloc, _ := got["allocation"].(map[string]any); len(alloc) != 1 || alloc["mode"] != "fixed" {
				t.Errorf("fixed experiment's allocation %v, want {mode: fixed}", got["allocation"])
			}

			for _, tc := range []struct {
				name   string
				alloc  map[string]any
				status int
				fields []string
			}{
				{"bad values", map[string]any{"mode": "bandit", "update_every": "soon", "min_weight": 0.6, "budget": -1, "flight": "9000h"}, 422,
					[]string{"allocation.update_every", "allocation.min_weight", "allocation.budget", "allocation.flight"}},
				{"bad mode", map[string]any{"mode": "greedy"}, 422, []string{"allocation.mode"}},
				{"bandit fields on a fixed split", map[string]any{"mode": "fixed", "budget": 100}, 422, []string{"allocation.mode"}},
				{"unknown fields", map[string]any{"mode": "bandit", "update_evry": "1h", "cap": 1}, 400,
					[]string{"allocation.update_evry", "allocation.cap"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					bad := experimentBody("bad")
					bad["allocation"] = tc.alloc
					p := problem(t, e.do("POST", "/api/v1/experiments", e.admin, bad), tc.status)
					fields := map[string]bool{p.Field: true}
					for _, fe := range p.Errors {
						fields[fe.Field] = true
					}
					for _, f := range tc.fields {
						if !fields[f] {
							t.Errorf("no error names %s: %s %+v", f, p.Field, p.Errors)
						}
					}
				})
			}
		})
	}
}
