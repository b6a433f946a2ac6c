package httpapi

import (
	"context"
	"log/slog"
	"reflect"
	"testing"

	"github.com/promolift/promolift/experiments"
)

// TestExperimentAnalysisSettings creates experiments with alternative,
// lower_is_better_metrics and planned_mde on both stores, reads them back,
// checks the defaults of an experiment without them, and that bad values
// are a 422 naming every field at fault.
// settingsEnv is an API over a fresh store of kind (sqlite or postgres)
// with the admin key adminToken.
func settingsEnv(t *testing.T, kind string) *env {
	t.Helper()
	svc := experiments.NewService(openBadInputStore(t, kind), nil)
	if _, _, err := svc.EnsureAdminKey(context.Background(), adminToken); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, h: New(svc, Config{}, slog.New(slog.DiscardHandler)), admin: adminToken}
}

func TestExperimentAnalysisSettings(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			e := settingsEnv(t, kind)

			body := experimentBody("one-sided")
			body["alternative"] = "greater"
			body["lower_is_better_metrics"] = []string{"unsub", "return_rate"}
			body["planned_mde"] = 0.03
			wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, body), 201)
			got := decode(t, e.do("GET", "/api/v1/experiments/one-sided", e.admin, nil))
			if got["alternative"] != "greater" || got["planned_mde"] != 0.03 ||
				!reflect.DeepEqual(got["lower_is_better_metrics"], []any{"unsub", "return_rate"}) {
				t.Fatalf("read back alternative %v, planned_mde %v, lower_is_better_metrics %v",
					got["alternative"], got["planned_mde"], got["lower_is_better_metrics"])
			}

			body["alternative"], body["planned_mde"] = "less", 0.1
			delete(body, "lower_is_better_metrics")
			wantStatus(t, e.do("PUT", "/api/v1/experiments/one-sided", e.admin, body), 200)
			got = decode(t, e.do("GET", "/api/v1/experiments/one-sided", e.admin, nil))
			if got["alternative"] != "less" || got["planned_mde"] != 0.1 || !reflect.DeepEqual(got["lower_is_better_metrics"], []any{}) {
				t.Fatalf("after update: alternative %v, planned_mde %v, lower_is_better_metrics %v",
					got["alternative"], got["planned_mde"], got["lower_is_better_metrics"])
			}

			wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, experimentBody("plain")), 201)
			got = decode(t, e.do("GET", "/api/v1/experiments/plain", e.admin, nil))
			if got["alternative"] != "two-sided" || got["planned_mde"] != nil || !reflect.DeepEqual(got["lower_is_better_metrics"], []any{}) {
				t.Fatalf("defaults: alternative %v, planned_mde %v, lower_is_better_metrics %v",
					got["alternative"], got["planned_mde"], got["lower_is_better_metrics"])
			}

			bad := experimentBody("bad")
			bad["alternative"] = "bigger"
			bad["planned_mde"] = -0.1
			bad["lower_is_better_metrics"] = []string{"ok", "no spaces"}
			p := problem(t, e.do("POST", "/api/v1/experiments", e.admin, bad), 422)
			fields := map[string]bool{}
			for _, fe := range p.Errors {
				fields[fe.Field] = true
			}
			for _, f := range []string{"alternative", "planned_mde", "lower_is_better_metrics[1]"} {
				if !fields[f] {
					t.Errorf("no error names %s: %+v", f, p.Errors)
				}
			}
		})
	}
}
