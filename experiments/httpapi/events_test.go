package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

func exposure(id, unit, variant string) map[string]any {
	return map[string]any{"event_id": id, "type": "exposure", "experiment": "spring-sale", "variant": variant,
		"unit_id": unit, "timestamp": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano),
		"attributes": map[string]string{"country": "KR"}, "channel": "push"}
}

func conversion(id, unit string, revenue any) map[string]any {
	return map[string]any{"event_id": id, "type": "conversion", "name": "purchase", "unit_id": unit,
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "revenue": revenue, "promotion_cost": 100,
		"currency": "USD", "order_id": "o-" + id}
}

func postEvents(t *testing.T, e *env, events ...any) EventsResponse {
	t.Helper()
	w := e.do("POST", "/api/v1/events", e.sdk, map[string]any{"events": events})
	wantStatus(t, w, 200)
	var r EventsResponse
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEventsOutcomes(t *testing.T) {
	e := newEnv(t, Config{})
	e.startedExperiment("spring-sale")
	r := postEvents(t, e,
		exposure("x1", "u1", "ten_off"),
		conversion("c1", "u1", 1999),
		exposure("x1", "u1", "ten_off"), // duplicate inside the batch
	)
	if r.Accepted != 2 || r.Duplicate != 1 || r.Rejected != 0 || len(r.Results) != 3 {
		t.Fatalf("first batch: %+v", r)
	}
	r = postEvents(t, e, exposure("x1", "u1", "ten_off"), conversion("c1", "u1", 1999))
	if r.Duplicate != 2 || r.Results[0].Status != "duplicate" || r.Results[1].EventID != "c1" {
		t.Fatalf("second batch: %+v", r)
	}

	t.Run("one bad among good ones", func(t *testing.T) {
		bad := []struct {
			name        string
			event       any
			field, code string
		}{
			{"fractional revenue", conversion("b1", "u2", 12.5), "revenue", "invalid_money"},
			{"string revenue", conversion("b2", "u2", "1999"), "revenue", "invalid_money"},
			{"huge revenue", conversion("b3", "u2", json.Number("1e400")), "revenue", "invalid_money"},
			{"bad timestamp", func() any { m := conversion("b4", "u2", 1); m["timestamp"] = "yesterday"; return m }(), "timestamp", "invalid_timestamp"},
			{"unknown variant", exposure("b5", "u2", "half_off"), "variant", "unknown_variant"},
			{"unknown experiment", func() any { m := exposure("b6", "u2", "control"); m["experiment"] = "nope"; return m }(), "experiment", "unknown_experiment"},
			{"no event id", func() any { m := conversion("", "u2", 1); return m }(), "event_id", "required"},
			{"attributes not strings", func() any { m := exposure("b8", "u2", "control"); m["attributes"] = map[string]any{"age": 3}; return m }(), "attributes.age", "invalid_type"},
			{"not an object", 42, "events[1]", "invalid_type"},
			{"unknown type", func() any { m := conversion("b9", "u2", 1); m["type"] = "click"; return m }(), "type", "unknown_type"},
		}
		for i, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				good1 := exposure(fmt.Sprintf("g%da", i), "u3", "control")
				good2 := conversion(fmt.Sprintf("g%db", i), "u3", 500)
				r := postEvents(t, e, good1, b.event, good2)
				if r.Accepted != 2 || r.Rejected != 1 {
					t.Fatalf("%+v", r)
				}
				got := r.Results[1]
				if got.Status != "rejected" || got.Field != b.field || got.Code != b.code || got.Detail == "" || got.Index != 1 {
					t.Fatalf("rejection %+v, want field %q code %q", got, b.field, b.code)
				}
			})
		}
	})

	t.Run("invalid UTF-8 in one event", func(t *testing.T) {
		body := `{"events": [{"event_id": "u8", "type": "conversion", "name": "purchase", "unit_id": "` + "\xff" + `", "timestamp": "2026-01-01T00:00:00Z"},` +
			`{"event_id": "u8ok", "type": "conversion", "name": "purchase", "unit_id": "u", "timestamp": "2026-01-01T00:00:00Z"}]}`
		w := e.do("POST", "/api/v1/events", e.sdk, body)
		wantStatus(t, w, 200)
		var r EventsResponse
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		if r.Accepted != 1 || r.Rejected != 1 || r.Results[0].Code != "invalid_utf8" {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("stored counts", func(t *testing.T) {
		st, err := e.svc.SufficientStats(context.Background(), experiments.StatsQuery{Experiment: "spring-sale"})
		if err != nil {
			t.Fatal(err)
		}
		var exposures int64
		for _, v := range st.Variants {
			exposures += v.Exposures
		}
		if exposures == 0 {
			t.Fatalf("no exposures stored: %+v", st)
		}
	})
}

func TestEventsBatchErrors(t *testing.T) {
	e := newEnv(t, Config{MaxBatchEvents: 3, MaxBodyBytes: 2048})
	e.startedExperiment("spring-sale")
	evs := []any{exposure("a", "u", "control"), exposure("b", "u", "control"), exposure("c", "u", "control"), exposure("d", "u", "control")}
	p := problem(t, e.do("POST", "/api/v1/events", e.sdk, map[string]any{"events": evs}), 413)
	if p.Code != "too_many_events" || !strings.Contains(p.Detail, "3") {
		t.Fatalf("%+v", p)
	}
	p = problem(t, e.do("POST", "/api/v1/events", e.sdk, map[string]any{"events": []any{map[string]any{"pad": strings.Repeat("x", 3000)}}}), 413)
	if p.Code != "body_too_large" || !strings.Contains(p.Detail, "2048") {
		t.Fatalf("%+v", p)
	}
	for body, field := range map[string]string{`{}`: "events", `{"events": {}}`: "events", `{"events": [`: "body", ``: "body"} {
		if p := problem(t, e.do("POST", "/api/v1/events", e.sdk, body), 400); p.Field != field {
			t.Errorf("%s: field %q", body, p.Field)
		}
	}
	problem(t, e.do("POST", "/api/v1/events", e.analyst, `{"events": []}`), 403)
}

// TestLogsHoldNoSecrets runs requests carrying tokens and unit ids and
// checks that neither reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, Config{})
	e.startedExperiment("spring-sale")
	unit := "customer-4242-secret-unit"
	postEvents(t, e, exposure("l1", unit, "control"), conversion("l2", unit, 100), conversion("l3", unit, 1.5))
	w := e.do("POST", "/api/v1/keys", e.admin, `{"name": "k", "scope": "sdk"}`)
	newToken := decode(t, w)["token"].(string)
	e.do("GET", "/api/v1/experiments?environment="+unit, newToken, nil)
	e.do("GET", "/api/v1/experiments/"+unit, "pl_abcd1234_wrong-secret-wrong-secret", nil)
	e.do("GET", "/api/v1/flags/"+unit, e.analyst, nil)
	e.do("POST", "/api/v1/experiments", e.admin, `{"key": "`+unit+`", "coverage": "x"}`)
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"/api/v1/events"`) || !strings.Contains(logs, `"route":"/api/v1/experiments/:key"`) {
		t.Fatalf("requests not logged: %s", logs)
	}
	// The secret is everything after "pl_<id>_" (it may itself hold '_').
	secret := func(tok string) string {
		_, sec, ok := experiments.SplitToken(tok)
		if !ok {
			t.Fatalf("malformed token %q", tok)
		}
		return sec
	}
	for _, s := range []string{e.admin, e.sdk, e.analyst, newToken, secret(e.admin), secret(e.sdk), secret(newToken), "wrong-secret", unit, "Bearer"} {
		if strings.Contains(logs, s) {
			t.Errorf("log holds %q:\n%s", s, logs)
		}
	}
}

// TestConcurrentIngestCountsExactly posts 100,000 events (10% of them
// repeats) in batches of 1,000 from 8 clients and checks that the store
// holds exactly the accepted ones.
func TestConcurrentIngestCountsExactly(t *testing.T) {
	total := 100_000
	if testing.Short() {
		total = 10_000
	}
	const batch, clients = 1000, 8
	e := newEnv(t, Config{})
	e.startedExperiment("spring-sale")
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	// Event i is a repeat of event i-1 when i%10 == 9; units are exposed once.
	ts := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339Nano)
	makeEvent := func(i int) []byte {
		n := i
		if i%10 == 9 {
			n = i - 1
		}
		var b []byte
		if n%2 == 0 {
			v := "control"
			if n%4 == 0 {
				v = "ten_off"
			}
			b = fmt.Appendf(nil, `{"event_id":"e%d","type":"exposure","experiment":"spring-sale","variant":%q,"unit_id":"u%d","timestamp":%q}`, n, v, n/2, ts)
		} else {
			b = fmt.Appendf(nil, `{"event_id":"e%d","type":"conversion","name":"purchase","unit_id":"u%d","timestamp":%q,"revenue":100,"currency":"USD"}`, n, n/2, ts)
		}
		return b
	}
	batches := make(chan int)
	var mu sync.Mutex
	var accepted, duplicate, rejected int
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for start := range batches {
				var body bytes.Buffer
				body.WriteString(`{"events":[`)
				for i := start; i < start+batch; i++ {
					if i > start {
						body.WriteByte(',')
					}
					body.Write(makeEvent(i))
				}
				body.WriteString(`]}`)
				req, _ := http.NewRequest("POST", srv.URL+"/api/v1/events", &body)
				req.Header.Set("Authorization", "Bearer "+e.sdk)
				req.Header.Set("Content-Type", "application/json")
				resp, err := srv.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				var r EventsResponse
				err = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("batch %d: status %d: %v", start, resp.StatusCode, err)
					return
				}
				mu.Lock()
				accepted += r.Accepted
				duplicate += r.Duplicate
				rejected += r.Rejected
				mu.Unlock()
			}
		})
	}
	for start := 0; start < total; start += batch {
		select {
		case batches <- start:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	close(batches)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if rejected != 0 || accepted != total*9/10 || duplicate != total/10 {
		t.Fatalf("accepted %d duplicate %d rejected %d", accepted, duplicate, rejected)
	}
	st, err := e.svc.SufficientStats(context.Background(), experiments.StatsQuery{Experiment: "spring-sale"})
	if err != nil {
		t.Fatal(err)
	}
	var units, exposures int64
	for _, v := range st.Variants {
		units += v.Units
		exposures += v.Exposures
	}
	var conversions float64
	for _, m := range st.Metrics {
		if m.Metric == "purchase" {
			conversions += m.Count
		}
	}
	// Of every 10 events, 5 are exposures (one repeated) and 5 conversions:
	// 4.5 distinct... count them directly.
	wantExp, wantConv := 0, 0
	for i := 0; i < total; i++ {
		if i%10 == 9 {
			continue
		}
		if i%2 == 0 {
			wantExp++
		} else {
			wantConv++
		}
	}
	if exposures != int64(wantExp) || units != int64(wantExp) || conversions != float64(wantConv) {
		t.Fatalf("stored exposures %d units %d conversions %g, want %d %d %d", exposures, units, conversions, wantExp, wantExp, wantConv)
	}
	if wantExp+wantConv != accepted {
		t.Fatalf("accepted %d, distinct %d", accepted, wantExp+wantConv)
	}
}
