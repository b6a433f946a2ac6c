package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

func TestHealth(t *testing.T) {
	e := newEnv(t, Config{})
	wantStatus(t, e.do("GET", "/healthz", "", nil), 200)
	wantStatus(t, e.do("GET", "/readyz", "", nil), 200)
	e.store.Close()
	wantStatus(t, e.do("GET", "/healthz", "", nil), 200)
	p := problem(t, e.do("GET", "/readyz", "", nil), 503)
	if p.Code != "not_ready" {
		t.Errorf("code %q", p.Code)
	}
}

func TestEveryRouteNeedsAKeyWithItsScope(t *testing.T) {
	e := newEnv(t, Config{})
	tokens := map[experiments.Scope]string{experiments.ScopeAdmin: e.admin, experiments.ScopeSDK: e.sdk, experiments.ScopeAnalyst: e.analyst}
	for _, r := range Routes() {
		if r.Scopes == nil {
			continue
		}
		path := strings.NewReplacer(":key", "nope", ":id", "nope").Replace(r.Path)
		// The API's routes answer problem+json; HTML pages answer HTML.
		check := func(t *testing.T, w *httptest.ResponseRecorder, status int) string {
			t.Helper()
			if strings.HasPrefix(r.Path, "/api/") {
				return problem(t, w, status).Code
			}
			wantStatus(t, w, status)
			return ""
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			w := e.do(r.Method, path, "", "{}")
			check(t, w, 401)
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
			check(t, e.do(r.Method, path, "pl_nope0000_not-a-real-secret-key", "{}"), 401)
			check(t, e.do(r.Method, path, "garbage", "{}"), 401)
			for scope, tok := range tokens {
				// Streams run until the request context ends.
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				w := e.doCtx(ctx, r.Method, path, tok, "{}")
				cancel()
				if slices.Contains(r.Scopes, scope) {
					if w.Code == 401 || w.Code == 403 {
						t.Errorf("scope %s refused: %d %s", scope, w.Code, w.Body)
					}
				} else if code := check(t, w, 403); code != "" && code != "insufficient_scope" {
					t.Errorf("scope %s: code %q", scope, code)
				}
			}
		})
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t, Config{})
	problem(t, e.do("GET", "/api/v1/nothing", e.admin, nil), 404)
	problem(t, e.do("PATCH", "/api/v1/experiments", e.admin, nil), 405)
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.do("POST", "/api/v1/experiments", e.admin, designExperiment)
	wantStatus(t, w, 201)
	if got := decode(t, w)["status"]; got != "draft" {
		t.Fatalf("status %v", got)
	}
	steps := []struct{ action, status string }{
		{"start", "running"}, {"pause", "paused"}, {"resume", "running"}, {"stop", "stopped"}, {"archive", "archived"},
	}
	for i, s := range steps {
		t.Run(s.action, func(t *testing.T) {
			w := e.do("POST", "/api/v1/experiments/spring-sale/"+s.action, e.admin, nil)
			wantStatus(t, w, 200)
			m := decode(t, w)
			if m["status"] != s.status || m["revision"] != float64(i+2) {
				t.Fatalf("got status %v revision %v", m["status"], m["revision"])
			}
			if s.action == "start" && m["started_at"] == nil {
				t.Error("started_at not set")
			}
			if s.action == "stop" && m["ended_at"] == nil {
				t.Error("ended_at not set")
			}
		})
	}
	for _, action := range []string{"start", "pause", "resume", "stop", "archive"} {
		t.Run("illegal "+action, func(t *testing.T) {
			p := problem(t, e.do("POST", "/api/v1/experiments/spring-sale/"+action, e.admin, nil), 409)
			if p.Code != "illegal_transition" || p.Field != "status" {
				t.Fatalf("problem %+v", p)
			}
		})
	}
	problem(t, e.do("POST", "/api/v1/experiments/missing/start", e.admin, nil), 404)
}

func TestUpdateDraftOnly(t *testing.T) {
	e := newEnv(t, Config{})
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, designExperiment), 201)
	b := experimentBody("spring-sale")
	b["name"] = "Renamed"
	w := e.do("PUT", "/api/v1/experiments/spring-sale", e.admin, b)
	wantStatus(t, w, 200)
	if m := decode(t, w); m["name"] != "Renamed" || m["revision"] != float64(2) || m["coverage"] != float64(1) {
		t.Fatalf("update: %v", m)
	}
	b["key"] = "other"
	if p := problem(t, e.do("PUT", "/api/v1/experiments/spring-sale", e.admin, b), 422); p.Field != "key" {
		t.Fatalf("problem %+v", p)
	}
	delete(b, "key")
	wantStatus(t, e.do("POST", "/api/v1/experiments/spring-sale/start", e.admin, nil), 200)
	p := problem(t, e.do("PUT", "/api/v1/experiments/spring-sale", e.admin, b), 409)
	if p.Code != "not_draft" {
		t.Fatalf("problem %+v", p)
	}
	problem(t, e.do("PUT", "/api/v1/experiments/missing", e.admin, b), 404)
}

func TestRerandomize(t *testing.T) {
	e := newEnv(t, Config{})
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, designExperiment), 201)
	if p := problem(t, e.do("POST", "/api/v1/experiments/spring-sale/rerandomize", e.admin, `{"weights":[0.2,0.8]}`), 409); p.Code != "not_started" {
		t.Fatalf("problem %+v", p)
	}
	wantStatus(t, e.do("POST", "/api/v1/experiments/spring-sale/start", e.admin, nil), 200)
	w := e.do("POST", "/api/v1/experiments/spring-sale/rerandomize", e.admin, `{"weights": [0.2, 0.8], "coverage": 0.5}`)
	wantStatus(t, w, 200)
	m := decode(t, w)
	vs := m["variants"].([]any)
	if m["bucket_version"] != float64(2) || m["coverage"] != 0.5 || vs[1].(map[string]any)["weight"] != 0.8 {
		t.Fatalf("rerandomized: %v", m)
	}
	if p := problem(t, e.do("POST", "/api/v1/experiments/spring-sale/rerandomize", e.admin, `{"weights": [1]}`), 422); p.Field != "weights" {
		t.Fatalf("problem %+v", p)
	}
	if p := problem(t, e.do("POST", "/api/v1/experiments/spring-sale/rerandomize", e.admin, `{"weights": [0.7, 0.7]}`), 422); p.Code != "weights_sum" {
		t.Fatalf("problem %+v", p)
	}
}

func TestDesignBodiesAcceptedVerbatim(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.do("POST", "/api/v1/experiments", e.admin, designExperiment)
	wantStatus(t, w, 201)
	if w.Header().Get("Location") != "/api/v1/experiments/spring-sale" {
		t.Errorf("Location %q", w.Header().Get("Location"))
	}
	m := decode(t, w)
	for k, want := range map[string]any{"key": "spring-sale", "name": "Spring sale coupon", "status": "draft",
		"hash_version": float64(2), "coverage": float64(1), "attribution_window_hours": float64(168),
		"primary_metric": "purchase", "unit_attribute": "id", "revision": float64(1), "environment": "production"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if _, ok := m["created_at"].(string); !ok {
		t.Error("created_at missing")
	}
	wantStatus(t, e.do("POST", "/api/v1/experiments/spring-sale/start", e.admin, nil), 200)

	w = e.do("POST", "/api/v1/flags", e.admin, designFlag)
	wantStatus(t, w, 201)
	f := decode(t, w)
	if f["key"] != "spring-sale-gate" || f["enabled"] != true || f["default_variant"] != "off" || len(f["rules"].([]any)) != 2 {
		t.Fatalf("flag %v", f)
	}
	problem(t, e.do("POST", "/api/v1/experiments", e.admin, designExperiment), 409)
	problem(t, e.do("POST", "/api/v1/flags", e.admin, designFlag), 409)
}

func TestCoverageDefaultsToOne(t *testing.T) {
	e := newEnv(t, Config{})
	b := experimentBody("no-coverage")
	delete(b, "coverage")
	w := e.do("POST", "/api/v1/experiments", e.admin, b)
	wantStatus(t, w, 201)
	if c := decode(t, w)["coverage"]; c != float64(1) {
		t.Fatalf("coverage %v", c)
	}
}

func TestInvalidDefinitions(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 4096})
	edit := func(f func(m map[string]any)) map[string]any {
		m := experimentBody("bad")
		f(m)
		return m
	}
	variant := func(m map[string]any, i int) map[string]any { return m["variants"].([]any)[i].(map[string]any) }
	cases := []struct {
		name        string
		body        any
		contentType string
		status      int
		field, code string
	}{
		{"weights not summing to 1", edit(func(m map[string]any) { variant(m, 1)["weight"] = 0.7 }), "", 422, "variants", "weights_sum"},
		{"duplicate variant keys", edit(func(m map[string]any) { variant(m, 1)["key"] = "control" }), "", 422, "variants[1].key", "duplicate_key"},
		{"coverage 1.5", edit(func(m map[string]any) { m["coverage"] = 1.5 }), "", 422, "coverage", "out_of_range"},
		{"unknown promotion type", edit(func(m map[string]any) { variant(m, 1)["promotion"] = map[string]any{"type": "half_off"} }), "", 422, "variants[1].promotion.type", "unknown_promotion_type"},
		{"bad condition operator", edit(func(m map[string]any) { m["condition"] = map[string]any{"country": map[string]any{"$inn": 1}} }), "", 422, "condition", "invalid_condition"},
		{"condition not an object", edit(func(m map[string]any) { m["condition"] = []int{1} }), "", 422, "condition", "invalid_condition"},
		{"bad key", edit(func(m map[string]any) { m["key"] = "has space" }), "", 422, "key", "invalid_key"},
		{"coverage of the wrong JSON type", edit(func(m map[string]any) { m["coverage"] = "full" }), "", 400, "coverage", "invalid_type"},
		{"weight of the wrong JSON type", edit(func(m map[string]any) { variant(m, 1)["weight"] = "half" }), "", 400, "variants[1].weight", "invalid_type"},
		{"budget not an integer", edit(func(m map[string]any) { variant(m, 1)["promotion"] = map[string]any{"type": "none", "budget": 1.5} }), "", 400, "variants[1].promotion.budget", "invalid_type"},
		{"variants not an array", edit(func(m map[string]any) { m["variants"] = map[string]any{} }), "", 400, "variants", "invalid_type"},
		{"body an array", `[1, 2]`, "", 400, "body", "invalid_type"},
		{"malformed JSON", `{"key": "x",`, "", 400, "body", "invalid_json"},
		{"trailing data", `{"key": "x"} {}`, "", 400, "body", "invalid_json"},
		{"empty body", ``, "", 400, "body", "empty_body"},
		{"invalid UTF-8", "{\"key\": \"bad\", \"name\": \"\xff\xfe\"}", "", 400, "body", "invalid_utf8"},
		{"not JSON content type", `key=x`, "application/x-www-form-urlencoded", 415, "Content-Type", "unsupported_media_type"},
		{"body over the limit", `{"name": "` + strings.Repeat("x", 5000) + `"}`, "", 413, "body", "body_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			if c.contentType != "" {
				req := httptest.NewRequest("POST", "/api/v1/experiments", strings.NewReader(c.body.(string)))
				req.Header.Set("Content-Type", c.contentType)
				req.Header.Set("Authorization", "Bearer "+e.admin)
				w = httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
			} else {
				w = e.do("POST", "/api/v1/experiments", e.admin, c.body)
			}
			p := problem(t, w, c.status)
			if p.Code != c.code || p.Field != c.field {
				t.Fatalf("code %q field %q, want %q %q: %+v", p.Code, p.Field, c.code, c.field, p)
			}
			if c.field != "" && c.status != 413 && c.status != 415 && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) {
				t.Fatalf("errors %+v", p.Errors)
			}
			if c.status == 413 && !strings.Contains(p.Detail, "4096") {
				t.Fatalf("detail does not name the limit: %q", p.Detail)
			}
		})
	}
	t.Run("several problems listed", func(t *testing.T) {
		m := edit(func(m map[string]any) { m["coverage"] = 2; m["hash_version"] = 7 })
		p := problem(t, e.do("POST", "/api/v1/experiments", e.admin, m), 422)
		if len(p.Errors) < 2 {
			t.Fatalf("errors %+v", p.Errors)
		}
	})
}

func TestFlags(t *testing.T) {
	e := newEnv(t, Config{})
	wantStatus(t, e.do("POST", "/api/v1/flags", e.admin, designFlag), 201)
	for _, tok := range []string{e.admin, e.analyst, e.sdk} {
		w := e.do("GET", "/api/v1/flags/spring-sale-gate", tok, nil)
		wantStatus(t, w, 200)
	}
	w := e.do("GET", "/api/v1/flags", e.analyst, nil)
	wantStatus(t, w, 200)
	if n := len(decode(t, w)["flags"].([]any)); n != 1 {
		t.Fatalf("%d flags", n)
	}
	upd := strings.Replace(designFlag, `"enabled": true`, `"enabled": false`, 1)
	w = e.do("PUT", "/api/v1/flags/spring-sale-gate", e.admin, upd)
	wantStatus(t, w, 200)
	if m := decode(t, w); m["enabled"] != false || m["revision"] != float64(2) {
		t.Fatalf("updated flag %v", m)
	}
	bad := strings.Replace(designFlag, `"default_variant": "off"`, `"default_variant": "maybe"`, 1)
	if p := problem(t, e.do("PUT", "/api/v1/flags/spring-sale-gate", e.admin, bad), 422); p.Field != "default_variant" {
		t.Fatalf("problem %+v", p)
	}
	bad = strings.Replace(designFlag, `"rollout": 0.25`, `"rollout": "quarter"`, 1)
	if p := problem(t, e.do("POST", "/api/v1/flags", e.admin, bad), 400); p.Field != "rules[1].rollout" {
		t.Fatalf("problem %+v", p)
	}
	w = e.do("DELETE", "/api/v1/flags/spring-sale-gate", e.admin, nil)
	wantStatus(t, w, 204)
	problem(t, e.do("GET", "/api/v1/flags/spring-sale-gate", e.admin, nil), 404)
	problem(t, e.do("DELETE", "/api/v1/flags/spring-sale-gate", e.admin, nil), 404)
}

func TestListAndEnvironmentLimitedKeys(t *testing.T) {
	e := newEnv(t, Config{})
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, designExperiment), 201)
	st := experimentBody("staging-test")
	st["environment"] = "staging"
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, st), 201)
	wantStatus(t, e.do("POST", "/api/v1/experiments/staging-test/start", e.admin, nil), 200)

	count := func(path, tok string) int {
		w := e.do("GET", path, tok, nil)
		wantStatus(t, w, 200)
		return len(decode(t, w)["experiments"].([]any))
	}
	if n := count("/api/v1/experiments", e.analyst); n != 2 {
		t.Fatalf("all: %d", n)
	}
	if n := count("/api/v1/experiments?status=running", e.admin); n != 1 {
		t.Fatalf("running: %d", n)
	}
	if n := count("/api/v1/experiments?environment=production", e.sdk); n != 1 {
		t.Fatalf("production: %d", n)
	}
	problem(t, e.do("GET", "/api/v1/experiments?status=bogus", e.admin, nil), 400)

	w := e.do("POST", "/api/v1/keys", e.admin, `{"name": "staging app", "scope": "sdk", "environment": "staging"}`)
	wantStatus(t, w, 201)
	staging := decode(t, w)["token"].(string)
	if n := count("/api/v1/experiments", staging); n != 1 {
		t.Fatalf("staging key sees %d", n)
	}
	if n := count("/api/v1/experiments?environment=production", staging); n != 0 {
		t.Fatalf("staging key sees %d production experiments", n)
	}
	wantStatus(t, e.do("GET", "/api/v1/experiments/staging-test", staging, nil), 200)
	problem(t, e.do("GET", "/api/v1/experiments/spring-sale", staging, nil), 404)
}

func TestKeys(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.do("POST", "/api/v1/keys", e.admin, `{"name": "shop", "scope": "sdk"}`)
	wantStatus(t, w, 201)
	k := decode(t, w)
	token, id := k["token"].(string), k["id"].(string)
	if !strings.HasPrefix(token, "pl_"+id+"_") || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("key %v", k)
	}
	ev := fmt.Sprintf(`{"events": [{"event_id": "k1", "type": "conversion", "name": "purchase", "unit_id": "u", "timestamp": %q}]}`, "2026-01-01T00:00:00Z")
	wantStatus(t, e.do("POST", "/api/v1/events", token, ev), 200)

	w = e.do("GET", "/api/v1/keys", e.admin, nil)
	wantStatus(t, w, 200)
	body := w.Body.String()
	secret := token[len("pl_"+id+"_"):]
	if strings.Contains(body, secret) || strings.Contains(body, "token") || strings.Contains(body, "hash") || strings.Contains(body, "salt") {
		t.Fatalf("key list leaks secrets: %s", body)
	}
	var found map[string]any
	for _, x := range decode(t, w)["keys"].([]any) {
		if x.(map[string]any)["id"] == id {
			found = x.(map[string]any)
		}
	}
	if found == nil || found["last_used_at"] == nil || found["revoked_at"] != nil || found["scope"] != "sdk" {
		t.Fatalf("listed key %v", found)
	}
	for _, bad := range []string{`{"scope": "root"}`, `{"name": "x"}`, `{"scope": "sdk", "environment": "not valid"}`} {
		problem(t, e.do("POST", "/api/v1/keys", e.admin, bad), 422)
	}

	// Revocation works at once.
	wantStatus(t, e.do("DELETE", "/api/v1/keys/"+id, e.admin, nil), 204)
	problem(t, e.do("POST", "/api/v1/events", token, ev), 401)
	problem(t, e.do("GET", "/api/v1/experiments", token, nil), 401)
	problem(t, e.do("DELETE", "/api/v1/keys/nothere", e.admin, nil), 404)
	w = e.do("GET", "/api/v1/keys", e.admin, nil)
	if !strings.Contains(w.Body.String(), `"revoked_at":"`) {
		t.Fatalf("revoked_at not listed: %s", w.Body)
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t, Config{})
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, designExperiment), 201)
	wantStatus(t, e.do("POST", "/api/v1/experiments/spring-sale/start", e.admin, nil), 200)
	w := e.do("GET", "/api/v1/audit?limit=2", e.admin, nil)
	wantStatus(t, w, 200)
	m := decode(t, w)
	entries := m["entries"].([]any)
	if len(entries) != 2 || entries[0].(map[string]any)["action"] != "experiment.start" || m["next_before"] == nil {
		t.Fatalf("audit %v", m)
	}
	if entries[0].(map[string]any)["key_id"] != "admin0000" {
		t.Fatalf("audit key id %v", entries[0])
	}
	problem(t, e.do("GET", "/api/v1/audit?limit=0", e.admin, nil), 400)
	problem(t, e.do("GET", "/api/v1/audit?before=x", e.admin, nil), 400)
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, Config{})
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Header().Get("X-Request-ID") != "abc-123" {
		t.Fatalf("request id %q", w.Header().Get("X-Request-ID"))
	}
	req.Header.Set("X-Request-ID", "bad\x01id")
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	// An insane id is replaced by a fresh random one (24 hex digits), which
	// may contain "bad" by chance: compare with the header sent, not a word.
	if id := w.Header().Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Fatalf("request id %q, want a fresh one", id)
	}
}

func TestRecoveryTurnsPanicIntoProblem(t *testing.T) {
	logs := &syncBuffer{}
	a := &api{cfg: Config{}.withDefaults(), log: newTestLogger(logs)}
	r := gin.New()
	r.Use(a.requestID, a.logRequests, a.recovery)
	r.GET("/boom", func(*gin.Context) { panic("secret internal state") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/boom", nil))
	p := problem(t, w, 500)
	if strings.Contains(w.Body.String(), "secret internal state") || p.Code != "internal" {
		t.Fatalf("500 leaks or lacks code: %s", w.Body)
	}
	if !strings.Contains(logs.String(), "secret internal state") || !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("panic not logged: %s", logs)
	}
}

func TestInternalErrorsHideDetails(t *testing.T) {
	p := problemFor(fmt.Errorf("wrapped: %w", context.DeadlineExceeded))
	if p.Status != http.StatusInternalServerError || strings.Contains(p.Detail, "deadline") {
		t.Fatalf("problem %+v", p)
	}
	for k, want := range map[experiments.Kind]int{experiments.KindInvalid: 422, experiments.KindNotFound: 404,
		experiments.KindConflict: 409, experiments.KindUnauthorized: 401, experiments.KindForbidden: 403,
		experiments.KindUnavailable: 503, experiments.KindTooLarge: 413, experiments.KindRateLimited: 429,
		experiments.KindInternal: 500} {
		if got := statusOf(k); got != want {
			t.Errorf("%s: %d, want %d", k, got, want)
		}
	}
}
