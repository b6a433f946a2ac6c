package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
	"github.com/promolift/promolift/stats"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var (
	rptStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rptNow   = time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
)

// reportEnv is a running API over a fresh SQLite file with a seeded
// experiment "spring-sale" and keys of every scope.
type reportEnv struct {
	svc                 *experiments.Service
	srv                 *httptest.Server
	admin, sdk, analyst string
}

// rng is a tiny deterministic generator.
type rng uint64

func (g *rng) float() float64 {
	*g = *g*6364136223846793005 + 1442695040888963407
	return float64(uint64(*g)>>11) / (1 << 53)
}

func newReportEnv(t *testing.T) *reportEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return newReportEnvOn(t, st)
}

// reportStores runs test on the seeded report dataset in each store:
// SQLite, and PostgreSQL when PROMOLIFT_TEST_DATABASE_URL is set.
func reportStores(t *testing.T, test func(t *testing.T, e *reportEnv)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newReportEnv(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), storetest.PostgresURL(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		test(t, newReportEnvOn(t, st))
	})
}

// createKeys gives e an admin, an SDK and an analyst key of e.svc,
// created by admin.
func (e *reportEnv) createKeys(t *testing.T, admin experiments.Principal) {
	t.Helper()
	for _, k := range []struct {
		scope experiments.Scope
		dst   *string
	}{{experiments.ScopeAdmin, &e.admin}, {experiments.ScopeSDK, &e.sdk}, {experiments.ScopeAnalyst, &e.analyst}} {
		_, tok, err := e.svc.CreateKey(context.Background(), admin, string(k.scope), k.scope, "")
		if err != nil {
			t.Fatal(err)
		}
		*k.dst = tok
	}
}

// newReportEnvOn seeds the report dataset into st (closed at cleanup).
func newReportEnvOn(t *testing.T, st experiments.Store) *reportEnv {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { st.Close() })
	svc := experiments.NewService(st, nil)
	svc.SetClock(func() time.Time { return rptStart })
	e := &reportEnv{svc: svc}
	admin := experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
	e.createKeys(t, admin)
	x := springSaleExperiment()
	if err := svc.CreateExperiment(ctx, admin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, admin, x.Key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	draft := &experiments.Experiment{Key: "draft-test", Coverage: 1, Variants: x.Variants}
	if err := svc.CreateExperiment(ctx, admin, draft); err != nil {
		t.Fatal(err)
	}
	svc.SetClock(func() time.Time { return rptNow })
	seedEvents(t, svc, readReportFixture(t))
	e.srv = httptest.NewServer(New(svc, Config{}, nil))
	t.Cleanup(e.srv.Close)
	return e
}

// seedEvents ingests events (the fixture of readReportFixture) in
// batches of 500.
func seedEvents(t *testing.T, svc *experiments.Service, events []experiments.Event) {
	t.Helper()
	sdk := experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}
	for len(events) > 0 {
		k := min(len(events), 500)
		out, err := svc.IngestEvents(context.Background(), sdk, events[:k])
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Status != experiments.EventAccepted {
				t.Fatalf("event %s: %s %v", o.EventID, o.Status, o.Err)
			}
		}
		events = events[k:]
	}
}

func (e *reportEnv) get(t *testing.T, path, token string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got %s\nwant %s\n(run go test -update if the change is intended)", name, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d", name, len(gl), len(wl))
	}
}

func TestReportJSONGolden(t *testing.T) { reportStores(t, testReportJSONGolden) }

func testReportJSONGolden(t *testing.T, e *reportEnv) {
	resp, body := e.get(t, "/api/v1/experiments/spring-sale/report", e.analyst)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	ind.WriteByte('\n')
	golden(t, "report-spring-sale.json", ind.Bytes())

	// The analysis is `promolift analyze` of analyze_input.
	var doc struct {
		Analysis     json.RawMessage `json:"analysis"`
		AnalyzeInput json.RawMessage `json:"analyze_input"`
		Headline     HeadlineDTO     `json:"headline"`
		Decision     DecisionDTO     `json:"decision"`
		Variants     []VariantSummaryDTO
		Series       []SeriesPointDTO `json:"series"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	in, err := stats.DecodeAnalyzeInput(bytes.NewReader(doc.AnalyzeInput))
	if err != nil {
		t.Fatal(err)
	}
	out, err := stats.Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(out)
	if !bytes.Equal(want, doc.Analysis) {
		t.Fatalf("analysis is not stats.Analyze(analyze_input)")
	}
	if doc.Headline.Metric != "purchase" || doc.Headline.Variant != "ten_off" || doc.Headline.Lift == nil {
		t.Errorf("headline %+v", doc.Headline)
	}
	if doc.Decision.Action == "" || doc.Decision.Reason == "" {
		t.Errorf("decision %+v", doc.Decision)
	}
	if len(doc.Series) != 8 {
		t.Errorf("series has %d days, want 8", len(doc.Series))
	}
}

func TestReportCSVGolden(t *testing.T) { reportStores(t, testReportCSVGolden) }

func testReportCSVGolden(t *testing.T, e *reportEnv) {
	resp, body := e.get(t, "/api/v1/experiments/spring-sale/report?format=csv", e.analyst)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	golden(t, "report-spring-sale.csv", body)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(ReportCSVColumns, ",") {
		t.Fatalf("header %v", rows[0])
	}
	// 4 metrics × 2 variants × (1 overall + 3 countries + 3 channels +
	// 24 hours of first exposure), and the median and p90 order value of
	// the 2 variants overall.
	if got, want := len(rows)-1, 4*2*(7+24)+2*2; got != want {
		t.Errorf("%d rows, want %d", got, want)
	}
	for _, r := range rows[1:] {
		if len(r) != len(ReportCSVColumns) {
			t.Fatalf("row %v has %d columns", r, len(r))
		}
		if r[6] == "true" && r[11] != "" || r[6] == "false" && r[11] == "" {
			t.Errorf("row %v: comparison columns must be empty exactly on control rows", r)
		}
	}
}

func TestReportHTML(t *testing.T) {
	e := newReportEnv(t)
	resp, body := e.get(t, "/experiments/spring-sale", e.analyst)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	page := string(body)
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	for _, want := range []string{`name="viewport"`, `id="headline"`, "Cumulative lift", "Which promotion for which customers", "By country", "By channel", "Access.",
		`<table class="cohorts">`, `<th>Week 1</th>`, "Order value: median and p90", `<table class="order-values">`,
		`<th>median</th><td>control</td><td>116</td><td>48.03 USD</td><td>[45.86 USD, 54.88 USD]</td>`,
		`<th>p90</th><td>ten_off</td><td>152</td><td>66.22 USD</td><td>[63.98 USD, 67.26 USD]</td><td>-1.3%</td><td>[-4.7%, &#43;2.1%]</td>`, `<tr data-variant="ten_off"><th>ten_off</th><td title="`, "CUPED θ = ",
		`figures as of <time id="as-of" datetime="2026-03-08T12:00:00Z">2026-03-08 12:00 UTC</time>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?i)(src|href)="https?://`).MatchString(page) {
		t.Error("page references an external asset")
	}
	counts := svgCounts(page)
	// bars: one per variant; forest: 4 metrics × 1 variant; uplift (the
	// policy section): the origin and a point per country cell (3) and fold
	// (5); lift: 8 days; heatmaps: hour × channel (3 channels, every hour
	// seen), then country (3), channel (3) and hour (24) × 1 variant.
	want := []string{"bars:0:2", "forest:4:0", "uplift:16:0", "lift:8:0", "heat-hourchannel:0:0:72", "heat:0:0:3", "heat:0:0:3", "heat:0:0:24"}
	if strings.Join(counts, " ") != strings.Join(want, " ") {
		t.Errorf("svg counts %v, want %v", counts, want)
	}
	// The data attributes agree with the shapes drawn.
	if n := strings.Count(page, `class="pt"`); n != 12+16 {
		t.Errorf("%d points drawn, want 28", n)
	}
	// The policy section: a rule per country (rfm_segment and aipl_stage
	// are absent from this test's exposures), the value, the curve.
	if n := strings.Count(page, `<tr data-variant="`); !strings.Contains(page, `<table id="policy-rules">`) ||
		!strings.Contains(page, `id="policy-value"`) || n < 3 {
		t.Errorf("policy section missing or incomplete")
	}
	if n := strings.Count(page, `class="bar"`); n != 2 {
		t.Errorf("%d bars drawn, want 2", n)
	}
	// The index lists both experiments.
	resp, body = e.get(t, "/experiments", e.analyst)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="/experiments/spring-sale"`) || !strings.Contains(string(body), "draft-test") {
		t.Fatalf("index %d: %s", resp.StatusCode, body)
	}
}

var svgRe = regexp.MustCompile(`<svg [^>]*class="chart ([a-z ]+)"[^>]*data-points="(\d+)" data-bars="(\d+)" data-cells="(\d+)"`)

// svgCounts lists "class:points:bars" of every chart of a page, with
// ":cells" for heatmaps ("heat:0:0:3"; a class of several words joined by
// "-").
func svgCounts(page string) []string {
	var out []string
	for _, m := range svgRe.FindAllStringSubmatch(page, -1) {
		c := strings.ReplaceAll(m[1], " ", "-") + ":" + m[2] + ":" + m[3]
		if m[4] != "0" {
			c += ":" + m[4]
		}
		out = append(out, c)
	}
	return out
}

func TestReportAuth(t *testing.T) {
	e := newReportEnv(t)
	// No key: a problem for the API, an HTML page with a form for pages.
	resp, body := e.get(t, "/api/v1/experiments/spring-sale/report", "")
	if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("api without key: %d %s", resp.StatusCode, body)
	}
	resp, body = e.get(t, "/experiments/spring-sale", "")
	if resp.StatusCode != 401 || !strings.Contains(string(body), `name="token"`) {
		t.Errorf("page without key: %d %s", resp.StatusCode, body)
	}
	// The sdk scope may not read reports.
	resp, body = e.get(t, "/api/v1/experiments/spring-sale/report", e.sdk)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "insufficient_scope") {
		t.Errorf("sdk key: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.get(t, "/experiments/spring-sale?token="+e.sdk, "")
	if resp.StatusCode != 403 {
		t.Errorf("sdk token page: %d", resp.StatusCode)
	}
	// Admin may.
	if resp, body = e.get(t, "/api/v1/experiments/spring-sale/report", e.admin); resp.StatusCode != 200 {
		t.Errorf("admin: %d %s", resp.StatusCode, body)
	}
	// ?token= sets the cookie and redirects to the URL without the token.
	resp, _ = e.get(t, "/experiments/spring-sale?multiple_exposure=first&token="+e.analyst, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/experiments/spring-sale?multiple_exposure=first" {
		t.Fatalf("token login: %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == reportCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Value != e.analyst || ck.Path != "/" {
		t.Fatalf("cookie %+v", ck)
	}
	// The cookie opens the pages and the API.
	if resp, body = e.get(t, "/experiments/spring-sale?multiple_exposure=first", "", &http.Cookie{Name: reportCookie, Value: ck.Value}); resp.StatusCode != 200 {
		t.Errorf("cookie page: %d %s", resp.StatusCode, body)
	}
	if resp, body = e.get(t, "/api/v1/experiments/spring-sale/report?format=csv", "", &http.Cookie{Name: reportCookie, Value: ck.Value}); resp.StatusCode != 200 {
		t.Errorf("cookie csv: %d %s", resp.StatusCode, body)
	}
	// A revoked or bogus cookie is refused.
	if resp, _ = e.get(t, "/experiments", "", &http.Cookie{Name: reportCookie, Value: "pl_nope0000_bogus"}); resp.StatusCode != 401 {
		t.Errorf("bogus cookie: %d", resp.StatusCode)
	}
}

func TestReportBadRequests(t *testing.T) {
	e := newReportEnv(t)
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/experiments/spring-sale/report?format=xml", 400, "invalid_format"},
		{"/api/v1/experiments/spring-sale/report?multiple_exposure=all", 400, "invalid_multiple_exposure"},
		{"/api/v1/experiments/nope/report", 404, ""},
	} {
		resp, body := e.get(t, c.path, e.analyst)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.code) {
			t.Errorf("%s: %d %s", c.path, resp.StatusCode, body)
		}
	}
	resp, body := e.get(t, "/experiments/nope", e.analyst)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "<html") {
		t.Errorf("missing page: %d %s", resp.StatusCode, body)
	}
	// multiple_exposure=first counts the multiple-exposure units.
	_, b1 := e.get(t, "/api/v1/experiments/spring-sale/report", e.analyst)
	_, b2 := e.get(t, "/api/v1/experiments/spring-sale/report?multiple_exposure=first", e.analyst)
	var r1, r2 ReportResponse
	if err := json.Unmarshal(b1, &r1); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b2, &r2); err != nil {
		t.Fatal(err)
	}
	u := func(r ReportResponse) (n int64) {
		for _, v := range r.Variants {
			n += v.Units
		}
		return n
	}
	if r1.MultipleExposedUnits == 0 || u(r2) != u(r1)+r1.MultipleExposedUnits || r2.MultipleExposure != "first" {
		t.Errorf("exclude %d units (+%d multiple), first %d units", u(r1), r1.MultipleExposedUnits, u(r2))
	}
}

func TestSVGBuilderDeterministic(t *testing.T) {
	series := []SeriesPointDTO{
		{Date: "2026-03-01", Lifts: []SeriesLiftDTO{{Variant: "b", Valid: false}}},
		{Date: "2026-03-02", Lifts: []SeriesLiftDTO{{Variant: "b", Valid: true, Estimate: 0.1, CI: [2]float64{-0.05, 0.25}}}},
		{Date: "2026-03-03", Lifts: []SeriesLiftDTO{{Variant: "b", Valid: true, Estimate: 0.08, CI: [2]float64{0.01, 0.15}}}},
	}
	ca, cb := liftSeriesChart(series, "b"), liftSeriesChart(series, "b")
	a, b := ca.SVG, cb.SVG
	if a != b {
		t.Fatal("chart output is not deterministic")
	}
	if c := svgCounts(string(a)); len(c) != 1 || c[0] != "lift:2:0" {
		t.Fatalf("counts %v", c)
	}
	if !strings.Contains(string(a), `<polygon points="`) || strings.Count(string(a), `class="pt"`) != 2 {
		t.Fatalf("chart %s", a)
	}
	empty := liftSeriesChart(nil, "b").SVG
	if c := svgCounts(string(empty)); c[0] != "lift:0:0" || !strings.Contains(string(empty), "not enough data") {
		t.Fatalf("empty chart %s", empty)
	}
	bars := rateBars([]VariantSummaryDTO{{Key: "a", ConversionRate: 0.1}, {Key: "b<x>", ConversionRate: 0.2}, {Key: "c"}})
	if c := svgCounts(string(bars)); c[0] != "bars:0:3" || strings.Contains(string(bars), "b<x>") {
		t.Fatalf("bars %v %s", c, bars)
	}
}

// TestReportLinksItsSemantics: the HTML report links to the page that
// defines its figures, which the server serves without a key.
func TestReportLinksItsSemantics(t *testing.T) {
	e := newReportEnv(t)
	_, body := e.get(t, "/experiments/spring-sale", e.analyst)
	if !strings.Contains(string(body), `href="`+ReportDocsPath+`"`) {
		t.Fatalf("the report does not link to %s", ReportDocsPath)
	}
	resp, doc := e.get(t, ReportDocsPath, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%s: status %d, %s", ReportDocsPath, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"both ends included", "First exposure", "multiple_exposure", "CUPED pre-period",
		"Promotion cost rules", "Refunds", "net incremental revenue", "## Decision", "Currencies", "Channel"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("the report semantics lack %q", want)
		}
	}
}

// TestReportETag: a report answer carries the ETag of its snapshot and
// format; asking again with it answers 304 without a body.
func TestReportETag(t *testing.T) {
	e := newReportEnv(t)
	etags := map[string]string{}
	for _, path := range []string{"/api/v1/experiments/spring-sale/report", "/api/v1/experiments/spring-sale/report?format=csv"} {
		resp, _ := e.get(t, path, e.analyst)
		tag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || tag == "" {
			t.Fatalf("%s: status %d, ETag %q", path, resp.StatusCode, tag)
		}
		etags[path] = tag
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.analyst)
		req.Header.Set("If-None-Match", tag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Fatalf("%s with If-None-Match: status %d, %d bytes; want 304 and none", path, resp.StatusCode, len(body))
		}
	}
	if len(etags) != 2 || etags["/api/v1/experiments/spring-sale/report"] == etags["/api/v1/experiments/spring-sale/report?format=csv"] {
		t.Fatalf("JSON and CSV share the ETag %v", etags)
	}
}
