package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

const adminToken = "pl_admin0000_test-secret-key-0123456789"

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one API over a real SQLite store in a temporary directory.
type env struct {
	t       *testing.T
	svc     *experiments.Service
	store   *sqlite.Store
	h       http.Handler
	logs    *syncBuffer
	admin   string
	sdk     string
	analyst string
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"), nil)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := experiments.NewService(store, log)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatalf("admin key: %v", err)
	}
	e := &env{t: t, svc: svc, store: store, h: New(svc, cfg, log), logs: logs, admin: adminToken}
	_, e.sdk, err = svc.CreateKey(ctx, experiments.Principal{}, "sdk", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	_, e.analyst, err = svc.CreateKey(ctx, experiments.Principal{}, "analyst", experiments.ScopeAnalyst, "")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// do sends a request with a JSON body (a string, []byte, or a value to
// marshal; nil for none) and the token ("" for none).
func (e *env) do(method, path, token string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.doCtx(context.Background(), method, path, token, body)
}

// doCtx is do with a request context (streams end when it is done).
func (e *env) doCtx(ctx context.Context, method, path, token string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req := httptest.NewRequestWithContext(ctx, method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// decode decodes a JSON response into a map.
func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, w.Body.String())
	}
	return m
}

// problem checks that w is a problem+json document with the status and
// returns it.
func problem(t *testing.T, w *httptest.ResponseRecorder, status int) Problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem is not JSON: %v", err)
	}
	if p.Status != status || p.Code == "" || p.Type == "" || p.Title == "" || p.RequestID == "" {
		t.Fatalf("incomplete problem: %+v", p)
	}
	return p
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body.String())
	}
}

// The bodies of DESIGN.md §6, verbatim.
const designExperiment = `{"key": "spring-sale", "name": "Spring sale coupon", "hypothesis": "10% off lifts purchases",
 "unit_attribute": "id", "seed": "spring-sale", "hash_version": 2, "coverage": 1.0,
 "variants": [{"key": "control", "weight": 0.5, "promotion": {"type": "none"}},
              {"key": "ten_off", "weight": 0.5, "promotion": {"type": "percent_off", "value": 10}}],
 "condition": {"country": {"$in": ["KR", "JP"]}},
 "primary_metric": "purchase", "attribution_window_hours": 168}`

const designFlag = `{"key": "spring-sale-gate", "type": "boolean", "variants": {"on": true, "off": false},
 "default_variant": "off", "enabled": true,
 "rules": [{"condition": {"tier": "gold"}, "variant": "on"},
           {"rollout": 0.25, "variant": "on"}]}`

// experimentBody returns a valid experiment definition as a map to edit.
func experimentBody(key string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(designExperiment), &m); err != nil {
		panic(err)
	}
	m["key"] = key
	m["seed"] = key
	return m
}

// startedExperiment creates and starts an experiment.
func (e *env) startedExperiment(key string) {
	e.t.Helper()
	wantStatus(e.t, e.do("POST", "/api/v1/experiments", e.admin, experimentBody(key)), 201)
	wantStatus(e.t, e.do("POST", "/api/v1/experiments/"+key+"/start", e.admin, nil), 200)
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}
