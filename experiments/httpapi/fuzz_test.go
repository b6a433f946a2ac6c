package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// fuzzAPI is the real handler over a SQLite store in a temporary
// directory, with a running experiment "spring-sale" and a flag
// "spring-sale-gate".
func fuzzAPI(f *testing.F) http.Handler {
	f.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	svc := experiments.NewService(store, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		f.Fatal(err)
	}
	h := New(svc, Config{}, slog.New(slog.DiscardHandler))
	for _, r := range []struct{ path, body string }{
		{"/api/v1/experiments", designExperiment},
		{"/api/v1/experiments/spring-sale/start", ""},
		{"/api/v1/flags", designFlag},
	} {
		w := fuzzDo(h, "POST", r.path, []byte(r.body))
		if w.Code >= 300 {
			f.Fatalf("setup %s: %d %s", r.path, w.Code, w.Body)
		}
	}
	return h
}

func fuzzDo(h http.Handler, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// FuzzEventsBatch posts arbitrary bodies to POST /api/v1/events through
// the real handler and store: never a 5xx or a panic; a 200 is a well
// formed EventsResponse with one result per event and consistent counts.
func FuzzEventsBatch(f *testing.F) {
	for _, s := range []string{
		`{"events":[{"event_id":"e1","type":"exposure","unit_id":"u1","timestamp":"2026-03-01T12:00:00Z","experiment":"spring-sale","variant":"control"}]}`,
		`{"events":[{"event_id":"e2","type":"conversion","unit_id":"u1","timestamp":"2026-03-01T12:00:00Z","name":"purchase","revenue":125000,"promotion_cost":5000,"currency":"KRW","order_id":"o1","channel":"web","attributes":{"plan":"pro"}}]}`,
		`{"events":[{"event_id":"e3","type":"conversion","unit_id":"u\u0000","timestamp":"2026-03-01T12:00:00Z","name":"purchase","revenue":-1,"currency":"ABC"}]}`,
		`{"events":[{"event_id":"e4","event_id":"e5","type":"exposure","unit_id":"u","timestamp":"2026-03-01T12:00:00+09:00","experiment":"'; DROP TABLE events; --","variant":"x"}]}`,
		`{"events":[1,"x",null,[],{"revenue":1e400},{"revenue":19.99}]}`,
		`{"events":{}}`, `{}`, `[]`, ``, `{"events":[{"timestamp":"not a time"}]}`,
	} {
		f.Add([]byte(s))
	}
	h := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := fuzzDo(h, "POST", "/api/v1/events", body)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if w.Code != http.StatusOK {
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != w.Code {
				t.Fatalf("status %d without a problem document: %s", w.Code, w.Body)
			}
			return
		}
		var r EventsResponse
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatalf("200 with a body that is not an EventsResponse: %v: %s", err, w.Body)
		}
		if r.Accepted+r.Duplicate+r.Rejected != len(r.Results) {
			t.Fatalf("counts %d+%d+%d do not add up to %d results", r.Accepted, r.Duplicate, r.Rejected, len(r.Results))
		}
		for i, res := range r.Results {
			if res.Index != i || res.Status == "" || (res.Status == "rejected" && (res.Code == "" || res.Field == "")) {
				t.Fatalf("result %d malformed: %+v", i, res)
			}
		}
	})
}

// FuzzOFREPRequest posts arbitrary OFREP request bodies to both OFREP
// endpoints: never a 5xx or a panic, and every reply is JSON.
func FuzzOFREPRequest(f *testing.F) {
	for _, s := range []string{
		`{"context":{"targetingKey":"user-1","tier":"gold"}}`,
		`{"context":{"targetingKey":"user-2","country":"KR","age":30,"vip":true,"tags":["a","b"],"nested":{"x":1}}}`,
		`{"context":{"targetingKey":5}}`, `{"context":null}`, `{"context":[]}`, `{}`, ``, `null`,
		`{"context":{"targetingKey":"u\u0000"}}`, `{"context":{"a":1e400}}`, `{"context":{"id":"x","id":"y"}}`,
	} {
		f.Add([]byte(s))
	}
	h := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/ofrep/v1/evaluate/flags/spring-sale-gate", "/ofrep/v1/evaluate/flags/spring-sale", "/ofrep/v1/evaluate/flags"} {
			w := fuzzDo(h, "POST", path, body)
			if w.Code >= 500 {
				t.Fatalf("%s: status %d for %q: %s", path, w.Code, body, w.Body)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: status %d, body not JSON: %q", path, w.Code, w.Body)
			}
		}
	})
}
