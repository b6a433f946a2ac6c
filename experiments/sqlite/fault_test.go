package sqlite_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/sqlite"
)

const faultAdminKey = "pl_admin0000_fault-test-secret-0123456789"

// TestReadOnlyDatabase makes the database read-only under a running API
// (as root, file permissions do not stop writes, so the store's single
// write connection is switched to query_only, which fails writes with
// SQLITE_READONLY as a read-only file or mount does): writes get a clear
// 503, never a 500; reads keep working; and writes resume once the
// database is writable again.
func TestReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := experiments.NewService(s, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, faultAdminKey); err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(svc, httpapi.Config{}, slog.New(slog.DiscardHandler))
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+faultAdminKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := do("POST", "/api/v1/experiments", `{"key":"ro","variants":[{"key":"a","weight":0.5},{"key":"b","weight":0.5}]}`); w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/api/v1/experiments/ro/start", ""); w.Code != 200 {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	batch := func(id string) string {
		return `{"events":[{"event_id":"` + id + `","type":"exposure","unit_id":"u","timestamp":"` +
			time.Now().UTC().Format(time.RFC3339) + `","experiment":"ro","variant":"a"}]}`
	}
	if _, err := s.DB().ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/v1/events", batch("e1")},
		{"POST", "/api/v1/experiments", `{"key":"ro2","variants":[{"key":"a","weight":0.5},{"key":"b","weight":0.5}]}`},
		{"POST", "/api/v1/experiments/ro/pause", ""},
		{"POST", "/api/v1/keys", `{"name":"k","scope":"sdk"}`},
		{"POST", "/api/v1/assign", `{"unit_id":"u9","experiments":["ro"]}`}, // its exposure
	} {
		w := do(r.method, r.path, r.body)
		var p httpapi.Problem
		_ = json.Unmarshal(w.Body.Bytes(), &p)
		if w.Code != http.StatusServiceUnavailable || p.Code == "" || p.Detail == "" {
			t.Errorf("%s %s on a read-only database: %d %s; want a 503 problem", r.method, r.path, w.Code, w.Body)
		}
	}
	if w := do("POST", "/ofrep/v1/evaluate/flags/ro", `{"context":{"targetingKey":"u8"}}`); w.Code != http.StatusServiceUnavailable {
		t.Errorf("OFREP evaluation logging an exposure on a read-only database: %d %s; want 503", w.Code, w.Body)
	}
	if w := do("POST", "/api/v1/assign", `{"unit_id":"u9","experiments":["ro"],"log_exposure":false}`); w.Code != 200 {
		t.Errorf("assign without exposure on a read-only database: %d %s; want 200", w.Code, w.Body)
	}
	if w := do("GET", "/api/v1/experiments/ro", ""); w.Code != 200 {
		t.Errorf("reads must keep working on a read-only database: %d %s", w.Code, w.Body)
	}
	if _, err := s.DB().ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if w := do("POST", "/api/v1/events", batch("e2")); w.Code != 200 {
		t.Errorf("ingest once writable again: %d %s", w.Code, w.Body)
	}
}

// TestOpenUnwritablePath checks that a database that cannot be created
// gives a clear error, not a panic or a half-open store.
func TestOpenUnwritablePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte(strings.Repeat("not a database\n", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		filepath.Join(file, "db.sqlite"),           // a "directory" that is a file
		filepath.Join(dir, "missing", "db.sqlite"), // a directory that does not exist
		dir,  // a directory
		file, // a file that is not a database
	} {
		s, err := sqlite.Open(context.Background(), path, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) succeeded", filepath.Base(path))
			continue
		}
		if !strings.Contains(err.Error(), "sqlite") {
			t.Errorf("Open(%s) = %v: the error should say which store failed", filepath.Base(path), err)
		}
		t.Logf("Open(%s): %v", strings.TrimPrefix(path, dir), err)
	}
}
