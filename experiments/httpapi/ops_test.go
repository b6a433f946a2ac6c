package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/promolift/promolift/experiments"
)

// scrape reads GET /metrics and parses the text exposition.
func scrape(t *testing.T, e *env) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	wantStatus(t, w, 200)
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, w.Body.String())
	}
	return fams, w.Body.String()
}

// sample returns the value of the metric name with exactly the labels
// (a counter's or gauge's value, a histogram's sample count), and whether
// it exists.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func wantSample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := sample(fams, name, labels)
	if !ok {
		t.Errorf("%s%v: missing", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %g, want %g", name, labels, got, want)
	}
}

func TestOpsMetricsCountExactly(t *testing.T) {
	e := newEnv(t, Config{})
	// 3 creates (and one start).
	e.startedExperiment("spring-sale")
	for _, k := range []string{"summer-sale", "autumn-sale"} {
		wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, experimentBody(k)), 201)
	}
	// 5 event batches of known outcomes.
	bad := conversion("b1", "u9", 12.5) // fractional money
	batches := [][]any{
		{exposure("x1", "u1", "ten_off"), conversion("c1", "u1", 1999)},                   // 2 accepted
		{exposure("x1", "u1", "ten_off"), conversion("c2", "u2", 500)},                    // 1 accepted, 1 duplicate
		{bad, exposure("x3", "u3", "control")},                                            // 1 accepted, 1 rejected
		{42, exposure("x4", "u4", "half_off"), exposure("x1", "u1", "ten_off")},           // 2 rejected, 1 duplicate
		{conversion("c3", "u3", 1), conversion("c4", "u3", 2), conversion("c5", "u4", 3)}, // 3 accepted
	}
	var acc, dup, rej int
	for _, b := range batches {
		r := postEvents(t, e, b...)
		acc, dup, rej = acc+r.Accepted, dup+r.Duplicate, rej+r.Rejected
	}
	if acc != 7 || dup != 2 || rej != 3 {
		t.Fatalf("batches: accepted %d duplicate %d rejected %d, want 7 2 3", acc, dup, rej)
	}
	// One 401, and a raw path that must not show.
	problem(t, e.do("GET", "/api/v1/experiments", "", nil), 401)
	problem(t, e.do("GET", "/api/v1/experiments/no-such-secret-thing", e.admin, nil), 404)
	// The SDK config: one full, one 304.
	w := e.do("GET", "/api/v1/sdk/config", e.sdk, nil)
	wantStatus(t, w, 200)
	etag := w.Header().Get("ETag")
	req := httptest.NewRequest("GET", "/api/v1/sdk/config", nil)
	req.Header.Set("Authorization", "Bearer "+e.sdk)
	req.Header.Set("If-None-Match", etag)
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	wantStatus(t, w, 304)

	fams, text := scrape(t, e)
	wantSample(t, fams, "promolift_http_requests_total",
		map[string]string{"route": "/api/v1/experiments", "method": "POST", "status": "201"}, 3)
	wantSample(t, fams, "promolift_http_request_duration_seconds",
		map[string]string{"route": "/api/v1/experiments", "method": "POST"}, 3)
	wantSample(t, fams, "promolift_http_requests_total",
		map[string]string{"route": "/api/v1/experiments/:key/start", "method": "POST", "status": "200"}, 1)
	wantSample(t, fams, "promolift_http_requests_total",
		map[string]string{"route": "/api/v1/events", "method": "POST", "status": "200"}, 5)
	wantSample(t, fams, "promolift_http_requests_total",
		map[string]string{"route": "/api/v1/experiments", "method": "GET", "status": "401"}, 1)
	wantSample(t, fams, "promolift_http_requests_total",
		map[string]string{"route": "/api/v1/experiments/:key", "method": "GET", "status": "404"}, 1)
	wantSample(t, fams, "promolift_events_total", map[string]string{"status": "accepted"}, 7)
	wantSample(t, fams, "promolift_events_total", map[string]string{"status": "duplicate"}, 2)
	wantSample(t, fams, "promolift_events_total", map[string]string{"status": "rejected"}, 3)
	wantSample(t, fams, "promolift_ingest_batch_duration_seconds", map[string]string{}, 5)
	wantSample(t, fams, "promolift_sdk_config_served_total", map[string]string{"result": "ok"}, 1)
	wantSample(t, fams, "promolift_sdk_config_served_total", map[string]string{"result": "not_modified"}, 1)
	wantSample(t, fams, "promolift_sdk_config_version_info",
		map[string]string{"environment": "", "etag": strings.Trim(etag, `"`)}, 1)
	if _, ok := fams["promolift_store_errors_total"]; ok {
		if f := fams["promolift_store_errors_total"]; len(f.GetMetric()) > 0 {
			t.Errorf("store errors before any: %v", f)
		}
	}
	collected := []string{"go_goroutines"}
	if runtime.GOOS == "linux" {
		collected = append(collected, "process_cpu_seconds_total")
	}
	for _, name := range collected {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	for _, leak := range []string{"no-such-secret-thing", e.admin, e.sdk, "spring-sale"} {
		if strings.Contains(text, leak) {
			t.Errorf("the exposition holds %q", leak)
		}
	}

	// A scrape is counted like any request, by the next scrape.
	fams, _ = scrape(t, e)
	wantSample(t, fams, "promolift_http_requests_total",
		map[string]string{"route": "/metrics", "method": "GET", "status": "200"}, 1)

	// The store goes away: 5xx are counted as store errors by operation.
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	w = e.do("GET", "/api/v1/experiments", e.admin, nil)
	if w.Code < 500 {
		t.Fatalf("closed store: status %d", w.Code)
	}
	fams, _ = scrape(t, e)
	wantSample(t, fams, "promolift_store_errors_total", map[string]string{"op": "GET /api/v1/experiments"}, 1)
}

// TestOpsExposureMetrics: the group commit's and the exposure journal's
// counts are exposed, as counted.
func TestOpsExposureMetrics(t *testing.T) {
	for _, journal := range []bool{false, true} {
		t.Run(fmt.Sprintf("journal=%v", journal), func(t *testing.T) {
			e := newEnv(t, Config{})
			e.svc.SetExposureJournal(journal)
			e.startedExperiment("spring-sale")
			for _, u := range []string{"m1", "m2", "m3", "m1"} { // m1 again: answered from the recent set
				body := `{"unit_id": "` + u + `", "attributes": {"country": "KR"}, "experiments": ["spring-sale"]}`
				wantStatus(t, e.do("POST", "/api/v1/assign", e.sdk, body), 200)
			}
			if err := e.svc.FoldExposureJournal(context.Background()); err != nil {
				t.Fatal(err)
			}
			fams, _ := scrape(t, e)
			wantSample(t, fams, "promolift_exposure_batches_total", map[string]string{"result": "committed"}, 3)
			wantSample(t, fams, "promolift_exposure_batches_total", map[string]string{"result": "failed"}, 0)
			wantSample(t, fams, "promolift_exposures_committed_total", map[string]string{}, 3)
			wantSample(t, fams, "promolift_exposures_skipped_total", map[string]string{}, 1)
			folded := 0.0
			if journal {
				folded = 3
			}
			wantSample(t, fams, "promolift_exposures_folded_total", map[string]string{}, folded)
			wantSample(t, fams, "promolift_exposure_journal_backlog", map[string]string{}, 0)
			wantSample(t, fams, "promolift_exposure_journal_failing", map[string]string{}, 0)
		})
	}
}

func TestOpsMetricsDisabledAndIndependent(t *testing.T) {
	off := newEnv(t, Config{DisableMetrics: true})
	problem(t, off.do("GET", "/metrics", "", nil), 404)

	// Two instances in one process have their own registries.
	a, b := newEnv(t, Config{}), newEnv(t, Config{})
	wantStatus(t, a.do("GET", "/healthz", "", nil), 200)
	wantStatus(t, a.do("GET", "/healthz", "", nil), 200)
	fa, _ := scrape(t, a)
	fb, _ := scrape(t, b)
	labels := map[string]string{"route": "/healthz", "method": "GET", "status": "200"}
	wantSample(t, fa, "promolift_http_requests_total", labels, 2)
	if v, ok := sample(fb, "promolift_http_requests_total", labels); ok {
		t.Errorf("other instance counted %g", v)
	}
}

func TestOpsRateLimitBurst(t *testing.T) {
	const (
		rate  = 50
		burst = 20
		n     = 200
	)
	e := newEnv(t, Config{RateLimit: rate, RateBurst: burst})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type result struct {
		status     int
		retryAfter string
		code       string
	}
	get := func(path, token string) result {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return result{status: -1, code: err.Error()}
		}
		defer resp.Body.Close()
		r := result{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		if resp.StatusCode == 429 {
			var p Problem
			_ = json.NewDecoder(resp.Body).Decode(&p)
			r.code = p.Code
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				r.code += " content-type " + ct
			}
		}
		return r
	}

	results := make([]result, n)
	others := make([]result, 10)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() { results[i] = get("/api/v1/sdk/config", e.sdk) })
	}
	for i := range others { // another key, at the same time, within its burst
		wg.Go(func() { others[i] = get("/api/v1/experiments", e.analyst) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	ok, limited := 0, 0
	for _, r := range results {
		switch r.status {
		case 200:
			ok++
		case 429:
			limited++
			if r.code != "rate_limited" {
				t.Errorf("429 code %q", r.code)
			}
			if s, err := strconv.Atoi(r.retryAfter); err != nil || s < 1 {
				t.Errorf("Retry-After %q", r.retryAfter)
			}
		default:
			t.Errorf("unexpected result %+v", r)
		}
	}
	most := burst + int(rate*elapsed.Seconds()) + 1
	t.Logf("%d requests in %v: %d ok, %d limited (at most %d may pass)", n, elapsed, ok, limited, most)
	if ok < burst || ok > most {
		t.Errorf("%d succeeded, want between %d and %d", ok, burst, most)
	}
	if ok+limited != n {
		t.Errorf("%d ok + %d limited != %d", ok, limited, n)
	}
	for _, r := range others {
		if r.status != 200 {
			t.Errorf("the other key was refused: %+v", r)
		}
	}

	// The refusals show in the metrics.
	fams, _ := scrape(t, e)
	wantSample(t, fams, "promolift_http_rate_limited_total", map[string]string{}, float64(limited))
	wantSample(t, fams, "promolift_http_requests_total",
		map[string]string{"route": "/api/v1/sdk/config", "method": "GET", "status": "429"}, float64(limited))

	// OFREP answers 429 in its own error format, with Retry-After.
	e2 := newEnv(t, Config{RateLimit: 1, RateBurst: 1})
	var last *httptest.ResponseRecorder
	for range 3 {
		last = e2.do("POST", "/ofrep/v1/evaluate/flags", e2.sdk, "{}")
	}
	if last.Code != 429 || last.Header().Get("Retry-After") == "" || !strings.Contains(last.Body.String(), "errorDetails") {
		t.Errorf("OFREP over the limit: %d %q %s", last.Code, last.Header().Get("Retry-After"), last.Body)
	}
}

// TestOpsRateLimitDefaults: with the defaults an SDK key is never
// throttled (one key serves every app server of a shop), while admin keys
// keep a limit (bursts of 2000).
func TestOpsRateLimitDefaults(t *testing.T) {
	e := newEnv(t, Config{})
	count := func(token string, n int) (limited int) {
		for range n {
			if w := e.do("GET", "/api/v1/experiments", token, nil); w.Code == 429 {
				limited++
			} else if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
		return limited
	}
	if n := count(e.sdk, 3000); n != 0 {
		t.Errorf("an SDK key got %d 429s in 3000 requests with the defaults", n)
	}
	l := newRateLimiter(Config{})
	if l.scopes[experiments.ScopeSDK] != nil {
		t.Errorf("sdk keys have a default limit %+v", l.scopes[experiments.ScopeSDK].limit)
	}
	for _, s := range []experiments.Scope{experiments.ScopeAdmin, experiments.ScopeAnalyst} {
		if b := l.scopes[s]; b == nil || b.limit != (RateLimit{Rate: 1000, Burst: 2000}) {
			t.Errorf("%s keys: default limit %+v, want 1000/s bursts of 2000", s, b)
		}
	}
	if l.failures == nil || l.failures.limit != DefaultAuthFailureLimit {
		t.Errorf("no default limit of failed authentications")
	}
}

// TestOpsRateLimitPerScopeAndReports: a scope's limit applies to its keys
// only, and the report routes go through it too.
func TestOpsRateLimitPerScopeAndReports(t *testing.T) {
	e := newEnv(t, Config{ScopeRateLimits: map[experiments.Scope]RateLimit{experiments.ScopeAnalyst: {Rate: 0.001, Burst: 1}}})
	e.startedExperiment("spring-sale")
	wantStatus(t, e.do("GET", "/api/v1/experiments/spring-sale/report", e.analyst, nil), 200)
	if p := problem(t, e.do("GET", "/api/v1/experiments/spring-sale/report", e.analyst, nil), 429); p.Code != "rate_limited" {
		t.Fatalf("second report read: %+v", p)
	}
	if w := e.do("GET", "/experiments/spring-sale", e.analyst, nil); w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("report page over the limit: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	for range 5 {
		wantStatus(t, e.do("GET", "/api/v1/experiments/spring-sale", e.sdk, nil), 200)
	}
}

// TestOpsAuthFailuresLimitedPerAddress: requests with an invalid key are
// limited per client address (429 once over), while a valid key from the
// same address and invalid keys from another address are not.
func TestOpsAuthFailuresLimitedPerAddress(t *testing.T) {
	e := newEnv(t, Config{AuthFailureLimit: RateLimit{Rate: 0.001, Burst: 3}})
	from := func(addr, method, path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		req.RemoteAddr = addr
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", len(token)%200)) // never trusted for this
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w
	}
	const guess = "pl_abcdef012345_not-the-secret-0000000000000000"
	for i := range 3 {
		if w := from("203.0.113.7:4000", "GET", "/api/v1/experiments", guess); w.Code != 401 {
			t.Fatalf("failure %d: %d, want 401 within the burst", i, w.Code)
		}
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/experiments"}, {"GET", "/api/v1/experiments/x/report"}, {"POST", "/ofrep/v1/evaluate/flags"},
	} {
		w := from("203.0.113.7:4001", r.method, r.path, guess)
		if w.Code != 429 || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: guess over the limit answered %d %q, want 429 with Retry-After", r.method, r.path, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if w := from("203.0.113.7:4002", "GET", "/api/v1/experiments", e.sdk); w.Code != 200 {
		t.Errorf("a valid key from the same address: %d", w.Code)
	}
	if w := from("192.0.2.9:4000", "GET", "/api/v1/experiments", guess); w.Code != 401 {
		t.Errorf("a guess from another address: %d, want 401", w.Code)
	}
}

// corsPreflight sends a preflight from origin for method and the
// Access-Control-Request-Headers value headers.
func corsPreflight(t *testing.T, e *env, origin, path, method, headers string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("OPTIONS", path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// headerListHas reports whether the comma-separated header value list
// holds name, compared case-insensitively like header names.
func headerListHas(list, name string) bool {
	for _, v := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(v), name) {
			return true
		}
	}
	return false
}

func TestOpsCORS(t *testing.T) {
	const origin = "https://shop.example.com"
	withOrigin := func(e *env, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/sdk/config", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Authorization", "Bearer "+e.sdk)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w
	}

	e := newEnv(t, Config{CORSOrigins: []string{origin, "http://localhost:3000"}})
	for _, path := range []string{"/api/v1/sdk/config", "/api/v1/events", "/ofrep/v1/evaluate/flags/x"} {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE"} {
			t.Run(path+" "+method, func(t *testing.T) {
				const asked = "authorization, content-type, if-none-match, x-api-key, x-request-id"
				w := corsPreflight(t, e, origin, path, method, asked)
				if w.Code != 204 {
					t.Fatalf("preflight: %d %s", w.Code, w.Body)
				}
				h := w.Header()
				if h.Get("Access-Control-Allow-Origin") != origin {
					t.Errorf("Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
				}
				if !headerListHas(h.Get("Access-Control-Allow-Methods"), method) {
					t.Errorf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), method)
				}
				for _, hd := range []string{"Authorization", "Content-Type", "If-None-Match", "X-API-Key", "X-Request-ID"} {
					if !headerListHas(h.Get("Access-Control-Allow-Headers"), hd) {
						t.Errorf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), hd)
					}
				}
				if h.Get("Access-Control-Max-Age") != "600" {
					t.Errorf("Max-Age %q, want 600", h.Get("Access-Control-Max-Age"))
				}
				if h.Get("Access-Control-Allow-Credentials") != "" {
					t.Error("credentials allowed")
				}
			})
		}
	}
	w := withOrigin(e, origin)
	wantStatus(t, w, 200)
	if w.Header().Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("actual request headers: %v", w.Header())
	}
	for _, hd := range []string{"ETag", "Retry-After", "X-Request-ID"} {
		if !headerListHas(w.Header().Get("Access-Control-Expose-Headers"), hd) {
			t.Errorf("Expose-Headers %q lacks %s", w.Header().Get("Access-Control-Expose-Headers"), hd)
		}
	}
	if w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed on the actual request")
	}
	if !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Origin") {
		t.Errorf("Vary %q", w.Header().Values("Vary"))
	}

	// An unlisted origin gets no CORS headers and no 204.
	if w := corsPreflight(t, e, "https://evil.example.net", "/api/v1/sdk/config", "GET", "authorization"); w.Code == 204 ||
		w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unlisted preflight: %d %v", w.Code, w.Header())
	}
	if w := withOrigin(e, "https://evil.example.net"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unlisted origin: %v", w.Header())
	}

	// No origins configured: no CORS at all.
	none := newEnv(t, Config{})
	if w := corsPreflight(t, none, origin, "/api/v1/sdk/config", "GET", "authorization"); w.Code == 204 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off, preflight: %d %v", w.Code, w.Header())
	}
	if w := withOrigin(none, origin); w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Vary") != "" {
		t.Errorf("CORS off: %v", w.Header())
	}

	// "*": any origin.
	star := newEnv(t, Config{CORSOrigins: []string{"*"}})
	if w := corsPreflight(t, star, "https://anything.example.org", "/api/v1/sdk/config", "GET", "authorization"); w.Code != 204 ||
		w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("*: %d %v", w.Code, w.Header())
	}
	if w := withOrigin(star, "https://anything.example.org"); w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("*, actual request: %v", w.Header())
	}
}

// TestOpsCORSRefusedPreflight pins what the browser is told when a listed
// origin asks for what the API does not allow: no CORS headers and no 204,
// so the browser refuses the request before sending it.
func TestOpsCORSRefusedPreflight(t *testing.T) {
	const origin = "https://shop.example.com"
	e := newEnv(t, Config{CORSOrigins: []string{origin}})
	for _, tc := range []struct{ name, origin, method, headers string }{
		{"method PATCH", origin, "PATCH", "authorization"},
		{"method CONNECT", origin, "CONNECT", ""},
		{"header X-Custom", origin, "GET", "authorization, x-custom"},
		{"header Cookie", origin, "POST", "cookie"},
		{"origin differs in port", "https://shop.example.com:8443", "GET", ""},
		{"origin differs in scheme", "http://shop.example.com", "GET", ""},
		{"subdomain of a listed origin", "https://a.shop.example.com", "GET", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := corsPreflight(t, e, tc.origin, "/api/v1/events", tc.method, tc.headers)
			if w.Code == 204 {
				t.Errorf("answered 204")
			}
			for _, hd := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
				"Access-Control-Allow-Headers", "Access-Control-Max-Age"} {
				if v := w.Header().Get(hd); v != "" {
					t.Errorf("%s: %q", hd, v)
				}
			}
		})
	}
}

func TestOpsParseCORSOrigins(t *testing.T) {
	got, err := ParseCORSOrigins(" https://a.example.com, http://localhost:3000/ ,,*")
	if err != nil || strings.Join(got, " ") != "https://a.example.com http://localhost:3000 *" {
		t.Fatalf("%q %v", got, err)
	}
	if got, err := ParseCORSOrigins(""); err != nil || got != nil {
		t.Fatalf("empty: %q %v", got, err)
	}
	for _, bad := range []string{"a.example.com", "ftp://a.example.com", "https://a.example.com/path",
		"https://", "https://u:p@a.example.com", "https://a.example.com?x=1", "https://*.example.com"} {
		if _, err := ParseCORSOrigins(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOpsAPIKeysTableHoldsNoSecrets(t *testing.T) {
	e := newEnv(t, Config{})
	tokens := []string{e.admin, e.sdk, e.analyst}
	for _, scope := range []string{"admin", "sdk", "analyst"} {
		w := e.do("POST", "/api/v1/keys", e.admin, map[string]string{"name": "k-" + scope, "scope": scope})
		wantStatus(t, w, 201)
		var k KeyResponse
		if err := json.Unmarshal(w.Body.Bytes(), &k); err != nil || k.Token == "" {
			t.Fatalf("create key: %v %s", err, w.Body)
		}
		tokens = append(tokens, k.Token)
	}
	// Forms a leaked secret could take: the token, the secret, the secret's
	// bytes and their hex and base64.
	var needles [][]byte
	for _, tok := range tokens {
		_, secret, ok := experiments.SplitToken(tok)
		if !ok {
			t.Fatalf("token %q does not split", tok)
		}
		needles = append(needles, []byte(tok), []byte(secret))
		if raw, err := base64.RawURLEncoding.DecodeString(secret); err == nil {
			needles = append(needles, raw, []byte(hex.EncodeToString(raw)), []byte(base64.StdEncoding.EncodeToString(raw)))
		}
	}

	db := e.store.DB()
	scan := func(table string) int {
		rows, err := db.Queryx("SELECT * FROM " + table)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
			row, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for i, v := range row {
				var b []byte
				switch v := v.(type) {
				case []byte:
					b = v
				case string:
					b = []byte(v)
				default:
					b = fmt.Append(nil, v)
				}
				for _, nd := range needles {
					if len(nd) >= 8 && bytes.Contains(b, nd) {
						t.Errorf("%s.%s holds a secret", table, cols[i])
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := scan("api_keys"); n != len(tokens) {
		t.Errorf("api_keys has %d rows, want %d", n, len(tokens))
	}
	// No other table holds one either (the audit log records key creation).
	var tables []string
	if err := db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		scan(`"` + tb + `"`)
	}
}
