package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/httpapi/console"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/reportsnap"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

// env is a server with the API and the console over one store, and keys
// of every scope.
type env struct {
	srv                 *httptest.Server
	svc                 *experiments.Service
	reports             *reportsnap.Snapshots
	admin, analyst, sdk string
	boundAdmin          string
}

func newEnvOn(t *testing.T, st experiments.Store) *env {
	t.Helper()
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	svc := experiments.NewService(st, nil)
	e := &env{svc: svc}
	root := experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
	for _, k := range []struct {
		scope experiments.Scope
		env   string
		dst   *string
	}{{experiments.ScopeAdmin, "", &e.admin}, {experiments.ScopeAnalyst, "", &e.analyst}, {experiments.ScopeSDK, "", &e.sdk},
		{experiments.ScopeAdmin, "staging", &e.boundAdmin}} {
		_, tok, err := svc.CreateKey(ctx, root, string(k.scope)+k.env, k.scope, k.env)
		if err != nil {
			t.Fatal(err)
		}
		*k.dst = tok
	}
	x := &experiments.Experiment{Key: "prod-exp", Coverage: 1, Environment: "production", Variants: []experiments.Variant{
		{Key: "control", Weight: 0.5}, {Key: "b", Weight: 0.5}}}
	if err := svc.CreateExperiment(ctx, root, x); err != nil {
		t.Fatal(err)
	}
	// Every read that finds new events refreshes the report (in the
	// background; tests wait for it with reports.Wait).
	f := &experiments.Flag{Key: "checkout-gate", Type: "boolean", Environment: "production", DefaultVariant: "off",
		Variants: map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)}}
	if err := svc.CreateFlag(ctx, root, f); err != nil {
		t.Fatal(err)
	}
	reports := reportsnap.New(svc, reportsnap.Config{MinInterval: -1}, nil)
	t.Cleanup(reports.Close)
	e.reports = reports
	e.srv = httptest.NewServer(httpapi.New(svc, httpapi.Config{Reports: reports, Console: console.New(svc, reports, nil)}, nil))
	t.Cleanup(e.srv.Close)
	return e
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, st)
}

// stores runs test in each store: SQLite, and PostgreSQL when
// PROMOLIFT_TEST_DATABASE_URL is set.
func stores(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newEnv(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), storetest.PostgresURL(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		test(t, newEnvOn(t, st))
	})
}

// browser is a signed-in HTTP client: it opened the console once with
// ?token= and keeps the cookie.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) signIn(t *testing.T, token string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, c: &http.Client{Jar: jar}}
	resp, body := b.get(t, "/console/experiments?token="+url.QueryEscape(token))
	if resp.StatusCode != 200 || strings.Contains(resp.Request.URL.RawQuery, "token") {
		t.Fatalf("sign-in: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	return b
}

func (b *browser) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := b.c.Get(b.e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf is the form token of the page at path.
func (b *browser) csrf(t *testing.T, path string) string {
	t.Helper()
	_, body := b.get(t, path)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s has no CSRF token:\n%s", path, body)
	}
	return m[1]
}

// post sends form (with header) without following a redirect.
func (b *browser) post(t *testing.T, path string, form url.Values, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// storeState is what a rejected form must leave as it was: every
// experiment and the audit log.
func (e *env) storeState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	list, err := e.svc.ListExperiments(ctx, experiments.ExperimentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	audit, err := e.svc.Audit(ctx, 1000, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(struct {
		E []*experiments.Experiment
		A []*experiments.AuditEntry
	}{list, audit})
	return string(b)
}

// goodForm is a valid create form.
func goodForm(key string) url.Values {
	return url.Values{
		"key": {key}, "name": {"Coupon test"}, "primary_metric": {"purchase"}, "attribution_window_hours": {"72"},
		"segments": {"country"}, "coverage": {"1"},
		"variants[0].key": {"control"}, "variants[0].weight": {"0.5"}, "variants[0].promotion.type": {"none"},
		"variants[1].key": {"ten_off"}, "variants[1].weight": {"0.5"}, "variants[1].promotion.type": {"percent_off"},
		"variants[1].promotion.value": {"10"}, "variants[1].promotion.currency": {"USD"}, "variants[1].promotion.budget": {"500000"},
		"cond[0].attr": {"country"}, "cond[0].op": {"$in"}, "cond[0].value": {"KR, JP"},
	}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			out.Del(kv[i])
			continue
		}
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// errFields are the fields the page marks with an error, next to their
// input (data-field on the error text) or in the list of errors of
// fields without an input.
func errFields(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`data-field="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// apiErrFields are the fields the JSON API names for the same request.
func (e *env) apiErrFields(t *testing.T, body any) []string {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/experiments", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p httpapi.Problem
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode < 400 {
		t.Fatalf("the API accepted %s", b)
	}
	var out []string
	for _, fe := range p.Errors {
		if !slices.Contains(out, fe.Field) {
			out = append(out, fe.Field)
		}
	}
	slices.Sort(out)
	return out
}

// TestBadFormChangesNothing posts bad experiment forms: each answers 422
// with the errors next to their fields, the same fields the JSON API
// names for the same definition, and leaves the store as it was.
func TestBadFormChangesNothing(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		b := e.signIn(t, e.admin)
		for _, tc := range []struct {
			name string
			form url.Values
			// api is the same definition as JSON, nil when the form's
			// mistake cannot be written in JSON (a word for a number).
			api        map[string]any
			wantFields []string
		}{
			{"weights do not add up", with(goodForm("w"), "variants[1].weight", "0.7"),
				map[string]any{"key": "w", "variants": []any{map[string]any{"key": "control", "weight": 0.5}, map[string]any{"key": "ten_off", "weight": 0.7, "promotion": map[string]any{"type": "percent_off", "value": 10}}}},
				nil},
			{"bad key, unknown type, duplicate variant", with(goodForm("bad key!"), "variants[1].key", "control", "variants[1].promotion.type", "half_price"),
				map[string]any{"key": "bad key!", "variants": []any{map[string]any{"key": "control", "weight": 0.5}, map[string]any{"key": "control", "weight": 0.5, "promotion": map[string]any{"type": "half_price"}}}},
				nil},
			{"bad condition JSON", with(goodForm("c"), "condition", `{"country": `, "cond[0].attr", ""),
				nil, []string{"condition"}},
			{"a word for a number and a builder row without a value", with(goodForm("n"), "variants[0].weight", "half", "variants[1].promotion.budget", "lots", "cond[0].value", ""),
				// The unreadable weight counts as 0, so the weights no longer
				// add up to 1 either ("variants").
				nil, []string{"cond[0].value", "variants", "variants[0].weight", "variants[1].promotion.budget"}},
			{"bandit settings out of range", with(goodForm("bd"), "allocation.mode", "bandit", "allocation.update_every", "1s",
				"allocation.min_weight", "0.9", "allocation.flight", "forever"),
				map[string]any{"key": "bd", "variants": []any{map[string]any{"key": "control", "weight": 0.5},
					map[string]any{"key": "ten_off", "weight": 0.5, "promotion": map[string]any{"type": "percent_off", "value": 10, "currency": "USD", "budget": 500000}}},
					"allocation": map[string]any{"mode": "bandit", "update_every": "1s", "min_weight": 0.9, "flight": "forever"}},
				nil},
			{"a bandit setting on a fixed split, a word for a budget", with(goodForm("fx"), "allocation.mode", "fixed", "allocation.update_every", "6h", "allocation.budget", "lots"),
				nil, []string{"allocation.budget", "allocation.mode"}},
			{"one variant", with(goodForm("one"), "variants[1].key", "\x00", "variants[1].weight", "\x00", "variants[1].promotion.type", "\x00",
				"variants[1].promotion.value", "\x00", "variants[1].promotion.currency", "\x00", "variants[1].promotion.budget", "\x00", "variants[0].weight", "1"),
				map[string]any{"key": "one", "variants": []any{map[string]any{"key": "control", "weight": 1}}}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.storeState(t)
				form := with(tc.form, "_csrf", b.csrf(t, "/console/experiments/new"))
				status, page := b.post(t, "/console/experiments/new", form, nil)
				if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Nothing was saved") {
					t.Fatalf("status %d, want 422 with the errors\n%s", status, page)
				}
				got := errFields(page)
				want := tc.wantFields
				if tc.api != nil {
					want = e.apiErrFields(t, tc.api)
					if tc.wantFields != nil {
						t.Fatal("a case has either api or wantFields")
					}
				}
				if strings.Join(got, " ") != strings.Join(want, " ") || len(got) == 0 {
					t.Errorf("the form marks %v, want %v\n%s", got, want, page)
				}
				if after := e.storeState(t); after != before {
					t.Errorf("a rejected form changed the store:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
		// The same form, corrected, creates the draft.
		status, _ := b.post(t, "/console/experiments/new", with(goodForm("coupon"), "_csrf", b.csrf(t, "/console/experiments/new")), nil)
		if status != http.StatusSeeOther {
			t.Fatalf("good form: %d", status)
		}
		x, err := e.svc.GetExperiment(context.Background(), "coupon")
		if err != nil {
			t.Fatal(err)
		}
		if string(x.Condition) != `{"country":{"$in":["KR","JP"]}}` || x.Variants[1].Promotion.Budget != 500000 ||
			x.AttributionWindow.Hours() != 72 || x.Status != experiments.StatusDraft || !slices.Equal(x.Segments, []string{"country"}) {
			t.Errorf("stored %+v", x)
		}
	})
}

// TestBanditAllocationForm creates a bandit experiment from the form: the
// stored allocation is the one typed, the experiment's page says so, and
// the edit form shows it back.
func TestBanditAllocationForm(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		b := e.signIn(t, e.admin)
		form := with(goodForm("bandit-coupon"), "_csrf", b.csrf(t, "/console/experiments/new"), "allocation.mode", "bandit",
			"allocation.update_every", "6h", "allocation.min_weight", "0.1", "allocation.budget", "100000", "allocation.flight", "168h")
		if status, page := b.post(t, "/console/experiments/new", form, nil); status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", status, page)
		}
		x, err := e.svc.GetExperiment(context.Background(), "bandit-coupon")
		if err != nil {
			t.Fatal(err)
		}
		want := experiments.Allocation{Mode: experiments.AllocationBandit, UpdateEvery: 6 * time.Hour, MinWeight: 0.1,
			Budget: 100000, Flight: 168 * time.Hour}
		if x.Allocation != want {
			t.Errorf("stored allocation %+v, want %+v", x.Allocation, want)
		}
		if _, page := b.get(t, "/console/experiments/bandit-coupon"); !strings.Contains(page, "bandit: new weights every 6 h, each variant at least 10%, promotion budget 1000.00 USD over 168 h") {
			t.Errorf("the experiment's page does not show the allocation:\n%s", page)
		}
		_, page := b.get(t, "/console/experiments/bandit-coupon/edit")
		for _, in := range []string{`name="allocation.update_every" type="text" value="6h"`, `name="allocation.min_weight" type="number" value="0.1"`,
			`name="allocation.budget" type="number" value="100000"`, `name="allocation.flight" type="text" value="168h"`, `<option value="bandit" selected>`} {
			if !strings.Contains(page, in) {
				t.Errorf("the edit form lacks %s", in)
			}
		}
		// Saved again unchanged, the draft keeps its allocation.
		if status, page := b.post(t, "/console/experiments/bandit-coupon/edit", with(form, "_csrf", b.csrf(t, "/console/experiments/bandit-coupon/edit")), nil); status != http.StatusSeeOther {
			t.Fatalf("save: %d\n%s", status, page)
		}
		if x, _ := e.svc.GetExperiment(context.Background(), "bandit-coupon"); x.Allocation != want {
			t.Errorf("after saving the edit form: %+v", x.Allocation)
		}
	})
}

// TestCSRF refuses state-changing forms without the session's token or
// sent from another site, and changes nothing then.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.signIn(t, e.admin)
	other := e.signIn(t, e.boundAdmin)
	token := b.csrf(t, "/console/experiments/new")
	otherToken := other.csrf(t, "/console/experiments/new")
	for _, tc := range []struct {
		name   string
		token  string
		header http.Header
		want   int
	}{
		{"no token", "", nil, 403},
		{"a wrong token", "x" + token, nil, 403},
		{"another session's token", otherToken, nil, 403},
		{"cross-site fetch", token, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"another origin", token, http.Header{"Origin": {"https://evil.example"}}, 403},
		{"same origin", token, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {e.srv.URL}}, 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.storeState(t)
			form := with(goodForm("csrf"), "_csrf", tc.token)
			if tc.token == "" {
				form.Del("_csrf")
			}
			status, page := b.post(t, "/console/experiments/new", form, tc.header)
			if status != tc.want {
				t.Fatalf("status %d, want %d\n%s", status, tc.want, page)
			}
			if tc.want == 403 && e.storeState(t) != before {
				t.Error("a refused form changed the store")
			}
		})
		// Other state-changing forms check it too.
		for _, path := range []string{"/console/experiments/prod-exp/start", "/console/keys"} {
			if tc.want != 403 {
				continue
			}
			form := url.Values{"_csrf": {tc.token}, "name": {"k"}, "scope": {"sdk"}}
			if status, _ := b.post(t, path, form, tc.header); status != 403 {
				t.Errorf("%s %s: %d, want 403", tc.name, path, status)
			}
		}
	}
}

// TestConsoleRights: analysts read, admins change; a key bound to an
// environment sees only it; pages without sign-in ask for a key.
func TestConsoleRights(t *testing.T) {
	e := newEnv(t)
	anon := &browser{e: e, c: &http.Client{}}
	if resp, body := anon.get(t, "/console/experiments"); resp.StatusCode != 401 || !strings.Contains(body, `name="token"`) {
		t.Errorf("no sign-in: %d", resp.StatusCode)
	}
	analyst := e.signIn(t, e.analyst)
	for _, path := range []string{"/console/experiments", "/console/experiments/prod-exp", "/console/flags", "/console/experiments/prod-exp/explain?unit=u1"} {
		if resp, body := analyst.get(t, path); resp.StatusCode != 200 {
			t.Errorf("analyst GET %s: %d\n%s", path, resp.StatusCode, body)
		}
	}
	for _, path := range []string{"/console/experiments/new", "/console/keys", "/console/audit", "/console/experiments/prod-exp/edit"} {
		if resp, _ := analyst.get(t, path); resp.StatusCode != 403 {
			t.Errorf("analyst GET %s: %d, want 403", path, resp.StatusCode)
		}
	}
	before := e.storeState(t)
	if status, page := analyst.post(t, "/console/experiments/new", goodForm("an"), nil); status != 403 || !strings.Contains(page, "needs an admin key") {
		t.Errorf("analyst create: %d, want 403 for the scope", status)
	}
	if e.storeState(t) != before {
		t.Error("an analyst's form changed the store")
	}
	bound := e.signIn(t, e.boundAdmin)
	if resp, body := bound.get(t, "/console/experiments"); strings.Contains(body, "prod-exp") || resp.StatusCode != 200 {
		t.Errorf("a staging key lists production experiments: %d", resp.StatusCode)
	}
	if resp, _ := bound.get(t, "/console/experiments/prod-exp"); resp.StatusCode != 404 {
		t.Errorf("a staging key reads a production experiment: %d", resp.StatusCode)
	}
	status, page := bound.post(t, "/console/experiments/new", with(goodForm("st"), "environment", "production", "_csrf", bound.csrf(t, "/console/experiments/new")), nil)
	if status != 422 || !slices.Contains(errFields(page), "environment") {
		t.Errorf("a staging key creates in production: %d %v", status, errFields(page))
	}
}

// TestLifecycleAndExplain: the confirmation page says what will happen;
// confirming applies the action; "which variant" answers without
// logging an exposure; keys are shown once and can be revoked.
func TestLifecycleAndExplain(t *testing.T) {
	e := newEnv(t)
	b := e.signIn(t, e.admin)
	_, page := b.get(t, "/console/experiments/prod-exp/confirm/start")
	if !strings.Contains(page, "start to be assigned") || !strings.Contains(page, "can no longer be edited") {
		t.Errorf("confirmation page:\n%s", page)
	}
	if resp, _ := b.get(t, "/console/experiments/prod-exp/confirm/resume"); resp.StatusCode != 409 {
		t.Errorf("resume a draft: %d, want 409", resp.StatusCode)
	}
	if status, _ := b.post(t, "/console/experiments/prod-exp/start", url.Values{"_csrf": {b.csrf(t, "/console/experiments/prod-exp/confirm/start")}}, nil); status != 303 {
		t.Fatalf("start: %d", status)
	}
	x, _ := e.svc.GetExperiment(context.Background(), "prod-exp")
	if x.Status != experiments.StatusRunning {
		t.Fatalf("status %s after start", x.Status)
	}
	marker, _ := e.svc.EventsMarker(context.Background())
	_, page = b.get(t, "/console/experiments/prod-exp/explain?unit=customer-7&attributes=country%3DKR")
	if !regexp.MustCompile(`gets <strong id="variant">(control|b)</strong>`).MatchString(page) || !strings.Contains(page, "hashes into this variant") {
		t.Errorf("explain:\n%s", page)
	}
	if m, _ := e.svc.EventsMarker(context.Background()); m != marker {
		t.Error("explaining an assignment logged an event")
	}
	// Keys: the secret is shown once.
	status, page := b.post(t, "/console/keys", url.Values{"_csrf": {b.csrf(t, "/console/keys")}, "name": {"app"}, "scope": {"sdk"}}, nil)
	secret := regexp.MustCompile(`id="secret">([^<]+)<`).FindStringSubmatch(page)
	if status != 201 || secret == nil {
		t.Fatalf("create key: %d\n%s", status, page)
	}
	if _, err := e.svc.Authenticate(context.Background(), secret[1]); err != nil {
		t.Errorf("the key shown does not work: %v", err)
	}
	if _, page := b.get(t, "/console/keys"); strings.Contains(page, secret[1]) {
		t.Error("the key list shows a secret")
	}
	keys, _ := e.svc.ListKeys(context.Background(), "")
	var id string
	for _, k := range keys {
		if k.Name == "app" {
			id = k.ID
		}
	}
	if status, _ := b.post(t, "/console/keys/"+id+"/revoke", url.Values{"_csrf": {b.csrf(t, "/console/keys")}}, nil); status != 303 {
		t.Errorf("revoke: %d", status)
	}
	if _, err := e.svc.Authenticate(context.Background(), secret[1]); err == nil {
		t.Error("a revoked key still works")
	}
	if _, page := b.get(t, "/console/audit"); !strings.Contains(page, "experiment.start") {
		t.Error("the audit log lacks the start")
	}
}

// TestDocsListEveryPage: docs/console.md names every console route.
func TestDocsListEveryPage(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "console.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range console.Routes() {
		if !strings.Contains(string(doc), "`"+r.Path) {
			t.Errorf("docs/console.md does not list %s %s", r.Method, r.Path)
		}
	}
}

// TestEditDraftAndFlag: a draft's form saves through the API's
// validation and a started experiment cannot be edited; the flag form
// saves, and a bad one changes nothing.
func TestEditDraftAndFlag(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		b := e.signIn(t, e.admin)
		_, page := b.get(t, "/console/experiments/prod-exp/edit")
		if !strings.Contains(page, `name="variants[1].key" type="text" value="b"`) {
			t.Fatalf("the edit form does not show the draft:\n%s", page)
		}
		form := with(goodForm("ignored"), "_csrf", b.csrf(t, "/console/experiments/prod-exp/edit"), "name", "Renamed")
		if status, page := b.post(t, "/console/experiments/prod-exp/edit", form, nil); status != 303 {
			t.Fatalf("save: %d\n%s", status, page)
		}
		x, _ := e.svc.GetExperiment(ctx, "prod-exp")
		if x.Name != "Renamed" || x.Variants[1].Key != "ten_off" || x.Key != "prod-exp" {
			t.Errorf("saved %+v", x)
		}
		if _, err := e.svc.Transition(ctx, experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}, "prod-exp", experiments.ActionStart); err != nil {
			t.Fatal(err)
		}
		before := e.storeState(t)
		if status, _ := b.post(t, "/console/experiments/prod-exp/edit", form, nil); status != 409 {
			t.Errorf("edit a running experiment: %d, want 409", status)
		}
		if e.storeState(t) != before {
			t.Error("editing a running experiment changed it")
		}

		f := &experiments.Flag{Key: "gate", Type: "boolean", Environment: "production", DefaultVariant: "off",
			Variants: map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)}}
		if err := e.svc.CreateFlag(ctx, experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}, f); err != nil {
			t.Fatal(err)
		}
		token := b.csrf(t, "/console/flags/gate")
		good := url.Values{"_csrf": {token}, "description": {"checkout gate"}, "enabled": {"on"}, "default_variant": {"on"},
			"variants": {`{"on": true, "off": false}`}, "rules": {`[{"condition": {"tier": "gold"}, "variant": "on"}]`}}
		for _, tc := range []struct {
			name   string
			form   url.Values
			field  string
			status int
		}{
			{"unknown default variant", with(good, "default_variant", "maybe"), "default_variant", 422},
			{"variants not JSON", with(good, "variants", "{on"), "variants", 422},
			{"rules not JSON", with(good, "rules", "[{"), "rules", 422},
		} {
			before := e.storeState(t)
			status, page := b.post(t, "/console/flags/gate", tc.form, nil)
			if status != tc.status || !slices.Contains(errFields(page), tc.field) {
				t.Errorf("%s: %d %v, want %d naming %s", tc.name, status, errFields(page), tc.status, tc.field)
			}
			if e.storeState(t) != before {
				t.Errorf("%s: a rejected flag form changed the store", tc.name)
			}
		}
		if status, page := b.post(t, "/console/flags/gate", good, nil); status != 303 {
			t.Fatalf("save the flag: %d\n%s", status, page)
		}
		g, _ := e.svc.GetFlag(ctx, "gate")
		if !g.Enabled || g.DefaultVariant != "on" || g.Description != "checkout gate" || len(g.Rules) != 1 {
			t.Errorf("saved flag %+v", g)
		}
	})
}

// TestBadInputIsNeverA500: odd keys, ids and query values answer 4xx.
func TestBadInputIsNeverA500(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		b := e.signIn(t, e.admin)
		token := b.csrf(t, "/console/keys")
		long := strings.Repeat("k", 1<<16)
		for _, v := range []string{"a%00b", "%ff%fe", url.PathEscape("'; DROP TABLE events; --"), long} {
			for _, path := range []string{"/console/experiments/" + v, "/console/experiments/" + v + "/edit",
				"/console/experiments/prod-exp/confirm/" + v, "/console/experiments/" + v + "/explain?unit=u",
				"/console/experiments/prod-exp/explain?unit=" + v, "/console/flags/" + v, "/console/experiments?status=" + v,
				"/console/audit?before=" + v} {
				if resp, _ := b.get(t, path); resp.StatusCode >= 500 || resp.StatusCode == 200 && !strings.Contains(path, "unit=") && !strings.Contains(path, "before=") {
					t.Errorf("GET %.80s: %d", path, resp.StatusCode)
				}
			}
			for _, path := range []string{"/console/experiments/" + v + "/start", "/console/keys/" + v + "/revoke", "/console/flags/" + v} {
				if status, _ := b.post(t, path, url.Values{"_csrf": {token}}, nil); status < 400 || status >= 500 {
					t.Errorf("POST %.80s: %d", path, status)
				}
			}
		}
		form := with(goodForm("odd"), "_csrf", b.csrf(t, "/console/experiments/new"), "variants[0].key", "a\x00b", "name", "\xff\xfe", "cond[0].attr", "x\x00")
		if status, _ := b.post(t, "/console/experiments/new", form, nil); status != 422 {
			t.Errorf("a form with NUL and invalid UTF-8: %d, want 422", status)
		}
	})
}

// TestCSRFTokenHoldsAcrossReplicas: a form rendered by one server is
// accepted by another over the same store (behind a load balancer, or
// after a restart).
func TestCSRFTokenHoldsAcrossReplicas(t *testing.T) {
	e := newEnv(t)
	b := e.signIn(t, e.admin)
	token := b.csrf(t, "/console/experiments/new")
	replica := httptest.NewServer(httpapi.New(e.svc, httpapi.Config{Reports: e.reports, Console: console.New(e.svc, e.reports, nil)}, nil))
	t.Cleanup(replica.Close)
	other := &env{srv: replica, svc: e.svc}
	ob := other.signIn(t, e.admin)
	if status, page := ob.post(t, "/console/experiments/new", with(goodForm("replica"), "_csrf", token), nil); status != http.StatusSeeOther {
		t.Fatalf("the other replica refused the form: %d\n%s", status, page)
	}
}
