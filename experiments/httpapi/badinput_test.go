package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

// dbStore is a store with its database handle.
type dbStore interface {
	experiments.Store
	DB() *sqlx.DB
}

// openBadInputStore opens a fresh store of the kind ("sqlite" or "postgres").
func openBadInputStore(t *testing.T, kind string) dbStore {
	t.Helper()
	ctx := context.Background()
	var s dbStore
	var err error
	if kind == "postgres" {
		s, err = postgres.Open(ctx, storetest.PostgresURL(t), nil)
	} else {
		s, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "bad.db"), nil)
	}
	if err != nil {
		t.Fatalf("open %s: %v", kind, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tableCounts counts the rows of every table of the store's database.
func tableCounts(t *testing.T, s dbStore, kind string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if kind == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	var names []string
	if err := s.DB().SelectContext(ctx, &names, q); err != nil {
		t.Fatalf("list tables: %v", err)
	}
	counts := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := s.DB().GetContext(ctx, &c, `SELECT count(*) FROM "`+n+`"`); err != nil {
			t.Fatalf("count %s: %v", n, err)
		}
		counts[n] = c
	}
	if len(counts) == 0 {
		t.Fatal("no tables found")
	}
	return counts
}

// raw marks a JSON value inserted verbatim (possibly invalid JSON).
type raw string

// setPath returns a copy of the JSON object base with the value at path
// ("a.0.b") replaced by v, marshalled; raw values are spliced in as is.
func setPath(t *testing.T, base map[string]any, path string, v any) []byte {
	t.Helper()
	data, _ := json.Marshal(base)
	var m any
	_ = json.Unmarshal(data, &m)
	const marker = "\x01RAW\x01"
	val := v
	if r, ok := v.(raw); ok {
		val = marker
		_ = r
	}
	parts := strings.Split(path, ".")
	cur := m
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p] = val
			} else {
				cur = c[p]
			}
		case []any:
			n, _ := strconv.Atoi(p)
			if last {
				c[n] = val
			} else {
				cur = c[n]
			}
		default:
			t.Fatalf("bad path %s", path)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := v.(raw); ok {
		enc, _ := json.Marshal(marker)
		out = []byte(strings.Replace(string(out), string(enc), string(r), 1))
	}
	return out
}

// bodyRoute describes how to build bad bodies for a route that reads one.
type bodyRoute struct {
	base     map[string]any
	strField string // a string field that is validated
	numField string // a numeric field
	money    bool   // an event batch: add the money cases
	// freeForm: strField and numField take any JSON value (an evaluation
	// context), so only invalid JSON must be refused.
	freeForm bool
	// sqlHarmless: strField is free text, where SQL is a harmless value.
	sqlHarmless bool
}

func TestBadInputCatalogue(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { testBadInputCatalogue(t, kind) })
	}
}

func testBadInputCatalogue(t *testing.T, kind string) {
	ctx := context.Background()
	store := openBadInputStore(t, kind)
	svc := experiments.NewService(store, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: svc, h: New(svc, Config{}, slog.New(slog.DiscardHandler)), admin: adminToken}
	keyID, _, err := svc.CreateKey(ctx, experiments.Principal{}, "sdk", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = keyID
	e.startedExperiment("spring-sale")
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, experimentBody("draft-exp")), 201)
	var flag map[string]any
	_ = json.Unmarshal([]byte(designFlag), &flag)
	wantStatus(t, e.do("POST", "/api/v1/flags", e.admin, designFlag), 201)

	exp := experimentBody("new-exp")
	newFlag := map[string]any{}
	for k, v := range flag {
		newFlag[k] = v
	}
	newFlag["key"] = "new-flag"
	now := time.Now().UTC().Format(time.RFC3339)
	bodies := map[string]bodyRoute{
		"POST /api/v1/experiments":                  {base: exp, strField: "key", numField: "coverage"},
		"PUT /api/v1/experiments/:key":              {base: experimentBody("draft-exp"), strField: "key", numField: "coverage"},
		"POST /api/v1/experiments/:key/rerandomize": {base: map[string]any{"weights": []any{0.5, 0.5}}, strField: "weights", numField: "weights.0"},
		"POST /api/v1/flags":                        {base: newFlag, strField: "key", numField: "rules.1.rollout"},
		"PUT /api/v1/flags/:key":                    {base: flag, strField: "default_variant", numField: "rules.1.rollout"},
		"POST /api/v1/keys":                         {base: map[string]any{"name": "k", "scope": "sdk"}, strField: "scope", numField: "scope"},
		"POST /api/v1/events": {base: map[string]any{"events": []any{map[string]any{"event_id": "ev-1", "type": "conversion",
			"unit_id": "u1", "timestamp": now, "name": "purchase", "revenue": 1000, "currency": "KRW"}}},
			strField: "events.0.currency", numField: "events.0.revenue", money: true},
		"POST /api/v1/assign": {base: map[string]any{"unit_id": "u1", "experiments": []any{"spring-sale"}},
			strField: "unit_id", numField: "log_exposure", sqlHarmless: true},
		"POST /ofrep/v1/evaluate/flags/:key": {base: map[string]any{"context": map[string]any{"targetingKey": "u1"}},
			strField: "context", numField: "context.score", freeForm: true},
		"POST /ofrep/v1/evaluate/flags": {base: map[string]any{"context": map[string]any{"targetingKey": "u1"}},
			strField: "context", numField: "context.score", freeForm: true},
	}
	paramValue := map[string]string{"/api/v1/flags/:key": "spring-sale-gate", "/ofrep/v1/evaluate/flags/:key": "spring-sale-gate",
		"/api/v1/experiments/:key": "draft-exp"}

	type badCase struct {
		name        string
		path        string
		contentType string
		body        []byte
		mustBe4xx   bool // false: only "no 5xx, store unchanged" (a harmless value)
	}
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	big := strings.Repeat("a", 1<<20)
	var cases []badCase
	seen := map[string]bool{}
	for _, r := range Routes() {
		id := r.Method + " " + r.Path
		if seen[id] || r.Method == "HEAD" || strings.HasPrefix(r.Path, "/experiments") { // HTML pages: report_test.go
			continue
		}
		seen[id] = true
		path := r.Path
		if strings.Contains(path, ":key") {
			v := paramValue[r.Path]
			if v == "" {
				v = "spring-sale"
				if strings.Contains(path, "/flags/") {
					v = "spring-sale-gate"
				}
				if strings.HasSuffix(path, "/:key") && r.Path == "/api/v1/experiments/:key" {
					v = "draft-exp"
				}
			}
			path = strings.Replace(path, ":key", v, 1)
			for _, bad := range []struct{ name, v string }{
				{"NUL", "a%00b"}, {"invalid UTF-8", "%ff%fe"}, {"SQL", url.PathEscape("'; DROP TABLE events; --")},
				{"1 MB", strings.Repeat("k", 1<<20)}, {"spaces", "%20%20"},
			} {
				cases = append(cases, badCase{name: id + " path " + bad.name, path: strings.Replace(r.Path, ":key", bad.v, 1),
					mustBe4xx: true})
			}
		}
		if strings.Contains(path, ":id") {
			bads := []string{"a%00b", "%ff", strings.Repeat("9", 1<<20)}
			if r.Path == "/api/v1/keys/:id" {
				// Elsewhere an id may be any text (a customer id to erase).
				bads = append(bads, url.PathEscape("1 OR 1=1; --"))
			}
			for _, bad := range bads {
				cases = append(cases, badCase{name: id + " path :id " + bad[:min(len(bad), 12)],
					path: strings.Replace(r.Path, ":id", bad, 1), mustBe4xx: true})
			}
			path = strings.Replace(path, ":id", "nosuchkey", 1)
		}
		sep := "?"
		cases = append(cases, badCase{name: id + " query NUL", path: path + sep + "environment=%00&status=%00", mustBe4xx: true},
			badCase{name: id + " query invalid UTF-8", path: path + sep + "format=%ff", mustBe4xx: true})
		br, ok := bodies[id]
		if !ok {
			continue
		}
		add := func(name string, body []byte, must bool) {
			cases = append(cases, badCase{name: id + " " + name, path: path, body: body, mustBe4xx: must})
		}
		valid, _ := json.Marshal(br.base)
		isOFREP := strings.HasPrefix(r.Path, "/ofrep/")
		add("empty body", []byte{}, !isOFREP)
		add("blank body", []byte("  \n"), !isOFREP)
		add("malformed JSON", []byte(`{"key":`), true)
		add("top-level array", []byte(`[1,2,3]`), true)
		add("top-level string", []byte(`"hello"`), true)
		add("NaN literal", []byte(`{"x": NaN}`), true)
		add("deep nesting", []byte(`{"x": `+deep+`}`), true)
		add("deep nesting top", []byte(deep), true)
		add("invalid UTF-8", append(append([]byte{}, valid[:len(valid)-1]...), []byte(`,"zz":"\xff\xfe"}`)...), true)
		cases = append(cases, badCase{name: id + " wrong content type", path: path, body: valid, contentType: "text/plain", mustBe4xx: true})
		cases = append(cases, badCase{name: id + " form content type", path: path, body: []byte("key=a"), contentType: "application/x-www-form-urlencoded", mustBe4xx: true})
		first := strings.Split(br.strField, ".")[0]
		fv, _ := json.Marshal(br.base[first])
		add("duplicate key", append([]byte(`{"`+first+`":`+string(fv)+`,`), valid[1:]...), true)
		for _, n := range []raw{"1e400", "-1e400", "NaN", "Infinity", "-Infinity"} {
			add(br.numField+"="+string(n), setPath(t, br.base, br.numField, n), true)
		}
		for _, n := range []raw{"18446744073709551616", `"12"`, `{}`} {
			add(br.numField+"="+string(n), setPath(t, br.base, br.numField, n), !br.freeForm)
		}
		for _, s := range []struct {
			name string
			v    any
			must bool
		}{
			{"wrong type", 12, true}, {"SQL", "'; DROP TABLE events; --", !br.sqlHarmless}, {"NUL", "a\x00b", true},
			{"1 MB", big, true}, {"invalid UTF-8", raw("\"\xff\xfe\""), true}, {"deep", raw(deep), true},
		} {
			add(br.strField+" "+s.name, setPath(t, br.base, br.strField, s.v), s.must)
		}
		if br.money {
			add("negative revenue", setPath(t, br.base, "events.0.revenue", -1), true)
			add("negative promotion_cost", setPath(t, br.base, "events.0.promotion_cost", -5), true)
			add("fractional revenue", setPath(t, br.base, "events.0.revenue", raw("19.99")), true)
			add("2^63 revenue", setPath(t, br.base, "events.0.revenue", raw("9223372036854775808")), true)
			add("unknown currency", setPath(t, br.base, "events.0.currency", "ABC"), true)
			add("lower-case currency", setPath(t, br.base, "events.0.currency", "krw"), true)
			add("NUL in attribute", setPath(t, br.base, "events.0.attributes", map[string]any{"plan\x00": "x"}), true)
			add("NUL in event id", setPath(t, br.base, "events.0.event_id", "ev\x00"), true)
			add("NUL in unit id", setPath(t, br.base, "events.0.unit_id", "u\x00"), true)
			add("SQL event id", setPath(t, br.base, "events.0.type", "'; DROP TABLE events; --"), true)
			add("event is a string", []byte(`{"events": ["x"]}`), true)
			add("events is an object", []byte(`{"events": {"a": 1}}`), true)
			add("duplicate key in event", []byte(`{"events":[{"event_id":"ev-d","event_id":"ev-e","type":"exposure","unit_id":"u","timestamp":"`+now+`","experiment":"spring-sale","variant":"control"}]}`), true)
		}
	}

	before := tableCounts(t, store, kind)
	var n4xx, nOther int
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		method := strings.SplitN(c.name, " ", 2)[0]
		var req *http.Request
		if c.body != nil {
			req = httptest.NewRequestWithContext(ctx, method, "/", strings.NewReader(string(c.body)))
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
		} else {
			req = httptest.NewRequestWithContext(ctx, method, "/", nil)
		}
		req.URL.Opaque = ""
		u, err := url.Parse(c.path)
		if err != nil {
			// Paths that net/url refuses (such as %ff with no escape) go raw.
			u = &url.URL{Path: c.path}
		}
		req.URL = u
		req.RequestURI = c.path
		req.Header.Set("Authorization", "Bearer "+adminToken)
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("%s: panic: %v", c.name, v)
				}
			}()
			e.h.ServeHTTP(w, req)
		}()
		cancel()
		checkBadResponse(t, c.name, c.mustBe4xx, w)
		if w.Code >= 400 && w.Code < 500 {
			n4xx++
		} else {
			nOther++
		}
	}
	after := tableCounts(t, store, kind)
	var diffs []string
	for k, v := range before {
		if after[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %d -> %d", k, v, after[k]))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("the store changed: %s", strings.Join(diffs, "; "))
	}
	t.Logf("%s: %d bad inputs over %d routes: %d got 4xx, %d other (allowed harmless); tables %v", kind, len(cases), len(seen), n4xx, nOther, before)
}

// checkBadResponse checks one reply to a bad input: never 5xx; when it
// must be 4xx, a problem+json naming a field (an OFREP failure with its
// error code on /ofrep; an event batch may instead reject each event with
// its field).
func checkBadResponse(t *testing.T, name string, must bool, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Errorf("%s: status %d: %.300s", name, w.Code, w.Body.String())
		return
	}
	if !must && w.Code < 400 {
		return
	}
	ct := w.Header().Get("Content-Type")
	body := w.Body.Bytes()
	switch {
	case strings.Contains(name, "/ofrep/") && ct != "application/problem+json":
		var f OFREPFailure
		if w.Code < 400 || json.Unmarshal(body, &f) != nil || f.ErrorCode == "" {
			t.Errorf("%s: want an OFREP failure, got %d %s: %.300s", name, w.Code, ct, body)
		}
	case strings.HasPrefix(name, "POST /api/v1/events ") && w.Code == 200:
		var r EventsResponse
		if err := json.Unmarshal(body, &r); err != nil || r.Accepted+r.Duplicate != 0 || len(r.Results) == 0 {
			t.Errorf("%s: want every event rejected: %.300s", name, body)
			return
		}
		for _, res := range r.Results {
			if res.Field == "" || res.Code == "" {
				t.Errorf("%s: rejected event without field or code: %+v", name, res)
			}
		}
	default:
		if w.Code < 400 || w.Code >= 500 {
			t.Errorf("%s: status %d, want 4xx: %.300s", name, w.Code, body)
			return
		}
		var p Problem
		if ct != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Code == "" {
			t.Errorf("%s: want problem+json, got %d %s: %.300s", name, w.Code, ct, body)
			return
		}
		if p.Field == "" && w.Code != http.StatusNotFound && w.Code != http.StatusConflict {
			t.Errorf("%s: problem %d %s without a field: %s", name, w.Code, p.Code, p.Detail)
		}
	}
}

// TestNULInDefinitions checks that a NUL character anywhere in an
// experiment or flag definition is a 400 naming the field, on both stores
// (PostgreSQL cannot store NUL in text; it used to be a 500 there).
func TestNULInDefinitions(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			store := openBadInputStore(t, kind)
			svc := experiments.NewService(store, nil)
			if _, _, err := svc.EnsureAdminKey(context.Background(), adminToken); err != nil {
				t.Fatal(err)
			}
			e := &env{t: t, svc: svc, h: New(svc, Config{}, slog.New(slog.DiscardHandler)), admin: adminToken}
			wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, experimentBody("draft-exp")), 201)
			var flag map[string]any
			_ = json.Unmarshal([]byte(designFlag), &flag)
			for _, tc := range []struct {
				method, path string
				base         map[string]any
				at, field    string
			}{
				{"POST", "/api/v1/experiments", experimentBody("nul-exp"), "name", "name"},
				{"POST", "/api/v1/experiments", experimentBody("nul-exp"), "hypothesis", "hypothesis"},
				{"POST", "/api/v1/experiments", experimentBody("nul-exp"), "variants.1.key", "variants[1].key"},
				{"PUT", "/api/v1/experiments/draft-exp", experimentBody("draft-exp"), "owner", "owner"},
				{"POST", "/api/v1/flags", flag, "description", "description"},
				{"POST", "/api/v1/flags", flag, "rules.0.variant", "rules[0].variant"},
			} {
				w := e.do(tc.method, tc.path, e.admin, setPath(t, tc.base, tc.at, "bad\x00value"))
				p := problem(t, w, http.StatusBadRequest)
				if p.Field != tc.field || p.Code != "nul_character" {
					t.Errorf("%s %s with NUL in %s: field %q code %q, want %q nul_character", tc.method, tc.path, tc.at, p.Field, p.Code, tc.field)
				}
			}
			w := e.do("POST", "/api/v1/experiments", e.admin, `{"key":"k","variants":[],"x":{"a\u0000b":1}}`)
			if p := problem(t, w, http.StatusBadRequest); p.Field != `x.a\u0000b` {
				t.Errorf("NUL in a key: field %q", p.Field)
			}
			w = e.do("GET", "/api/v1/experiments/a%00b", e.admin, nil)
			if p := problem(t, w, http.StatusBadRequest); p.Field != "key" {
				t.Errorf("NUL in the path: field %q", p.Field)
			}
		})
	}
}
