package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// TestConversionsCountInTheirEnvironment is issue 22's scenario over the
// API: in a production experiment, a customer exposed in production buys
// once through a staging SDK key and once through a production SDK key,
// both with the event id "order-1". Both are accepted (an event id is
// unique within its environment), the staging one is left out of the
// production report, the production one counts, and a production retry
// is a duplicate.
func TestConversionsCountInTheirEnvironment(t *testing.T) {
	e := newEnv(t, Config{})
	e.startedExperiment("prod-exp")
	key := func(env string) string {
		_, tok, err := e.svc.CreateKey(context.Background(), experiments.Principal{}, "sdk-"+env, experiments.ScopeSDK, env)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	staging, production := key("staging"), key("production")
	now := time.Now().UTC()
	event := func(id, typ string, at time.Duration, extra map[string]any) map[string]any {
		ev := map[string]any{"event_id": id, "type": typ, "unit_id": "customer-1", "timestamp": now.Add(at).Format(time.RFC3339Nano)}
		for k, v := range extra {
			ev[k] = v
		}
		return map[string]any{"events": []map[string]any{ev}}
	}
	exposure := event("x-1", "exposure", -3*time.Minute, map[string]any{"experiment": "prod-exp", "variant": "ten_off"})
	order := func(revenue int) map[string]any {
		return event("order-1", "conversion", -time.Minute, map[string]any{"name": "purchase", "revenue": revenue, "currency": "KRW"})
	}
	for _, step := range []struct {
		name, token string
		body        map[string]any
		status      string
	}{
		{"production exposure", production, exposure, "accepted"},
		{"staging purchase", staging, order(90000), "accepted"},
		{"production purchase, same event id", production, order(12000), "accepted"},
		{"production retry", production, order(12000), "duplicate"},
		{"staging retry", staging, order(90000), "duplicate"},
	} {
		w := e.do("POST", "/api/v1/events", step.token, step.body)
		wantStatus(t, w, 200)
		results, _ := decode(t, w)["results"].([]any)
		if len(results) != 1 {
			t.Fatalf("%s: results %s", step.name, w.Body.String())
		}
		if got := results[0].(map[string]any)["status"]; got != step.status {
			t.Errorf("%s: status %v, want %s: %s", step.name, got, step.status, w.Body.String())
		}
	}
	w := e.do("GET", "/api/v1/experiments/prod-exp/report", e.analyst, nil)
	wantStatus(t, w, 200)
	variants, _ := decode(t, w)["variants"].([]any)
	got := map[string][2]float64{}
	for _, v := range variants {
		m := v.(map[string]any)
		conversions, _ := m["conversions"].(float64)
		revenue, _ := m["revenue"].(float64)
		got[m["key"].(string)] = [2]float64{conversions, revenue}
	}
	if want := (map[string][2]float64{"control": {0, 0}, "ten_off": {1, 12000}}); got["ten_off"] != want["ten_off"] || got["control"] != want["control"] {
		t.Fatalf("report variants (conversions, revenue) %v, want %v", got, want)
	}
}
