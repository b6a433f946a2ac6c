package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// envCase is how the environment matrix calls one route: the body it
// sends, made for the fixture group g (nil: no body).
type envCase func(g envGroup) any

// envGroup names the production resources made for one route and one
// binding of the caller's key, so that what one request changes (a flag
// deleted, a key revoked, a customer erased) does not touch another's.
type envGroup struct {
	exp, flag, cust, capGroup, keyID string
}

// envCases holds a case for every authenticated route of Routes(): a new
// route without one fails TestEnvironmentBindingOnEveryRoute.
var envCases = map[string]envCase{
	"POST /api/v1/experiments": func(g envGroup) any {
		b := experimentBody(g.exp + "-new")
		b["environment"] = "production"
		return b
	},
	"GET /api/v1/experiments":      nil,
	"GET /api/v1/experiments/:key": nil,
	"PUT /api/v1/experiments/:key": func(g envGroup) any {
		b := experimentBody(g.exp)
		b["environment"] = "production"
		return b
	},
	"POST /api/v1/experiments/:key/start":       nil,
	"POST /api/v1/experiments/:key/pause":       nil,
	"POST /api/v1/experiments/:key/resume":      nil,
	"POST /api/v1/experiments/:key/stop":        nil,
	"POST /api/v1/experiments/:key/archive":     nil,
	"POST /api/v1/experiments/:key/rerandomize": func(envGroup) any { return `{"coverage": 0.5}` },
	"POST /api/v1/flags":                        func(g envGroup) any { return flagBody(g.flag+"-new", "production") },
	"GET /api/v1/flags":                         nil,
	"GET /api/v1/flags/:key":                    nil,
	"PUT /api/v1/flags/:key":                    func(g envGroup) any { return flagBody(g.flag, "production") },
	"DELETE /api/v1/flags/:key":                 nil,
	"POST /api/v1/keys": func(envGroup) any {
		return `{"name": "minted", "scope": "admin", "environment": "production"}`
	},
	"GET /api/v1/keys":        nil,
	"DELETE /api/v1/keys/:id": nil,
	"GET /api/v1/audit":       nil,
	"POST /api/v1/events":     func(g envGroup) any { return exposureBatch(g.exp, g.cust+"-ev") },
	"POST /api/v1/assign":     func(g envGroup) any { return map[string]any{"unit_id": g.cust + "-2", "experiments": []string{g.exp}} },
	"GET /api/v1/sdk/config":  nil,
	"GET /api/v1/sdk/stream":  nil,
	"POST /ofrep/v1/evaluate/flags/:key": func(envGroup) any {
		return `{"context": {"targetingKey": "someone"}}`
	},
	"POST /ofrep/v1/evaluate/flags":                   func(envGroup) any { return `{"context": {"targetingKey": "someone"}}` },
	"PUT /api/v1/customers/:id/consent":               func(envGroup) any { return `{"promotions": false}` },
	"DELETE /api/v1/customers/:id":                    nil,
	"PUT /api/v1/cap-groups/:key":                     func(envGroup) any { return `{"max_exposures": 3, "window_hours": 24}` },
	"GET /api/v1/cap-groups/:key":                     nil,
	"GET /api/v1/experiments/:key/customer-limits":    nil,
	"GET /api/v1/experiments/:key/report":             nil,
	"GET /api/v1/experiments/:key/policy":             nil,
	"POST /api/v1/experiments/:key/policy/experiment": nil,
	"GET /experiments":                                nil,
	"GET /experiments/:key":                           nil,
}

// flagBody is designFlag with another key and environment.
func flagBody(key, env string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(designFlag), &m); err != nil {
		panic(err)
	}
	m["key"], m["environment"] = key, env
	return m
}

// exposureBatch is a POST /api/v1/events body with one exposure.
func exposureBatch(exp, unit string) map[string]any {
	return map[string]any{"events": []map[string]any{{"event_id": unit, "type": "exposure", "unit_id": unit,
		"timestamp": time.Now().UTC().Format(time.RFC3339), "experiment": exp, "variant": "control"}}}
}

// envFixture is one store with production resources per group and keys
// of every scope bound to production, bound to staging, and unbound.
type envFixture struct {
	*env
	tokens map[string]map[experiments.Scope]string // binding → scope → token
}

// The bindings of the caller's key in the matrix, relative to the
// production resources the requests name.
const (
	bindOther   = "bound to another environment"
	bindSame    = "bound to the same environment"
	bindUnbound = "unbound"
)

func newEnvFixture(t *testing.T, store experimentsStore) *envFixture {
	t.Helper()
	ctx := context.Background()
	svc := experiments.NewService(store, slog.New(slog.DiscardHandler))
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	f := &envFixture{env: &env{t: t, svc: svc, h: New(svc, Config{}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))), admin: adminToken},
		tokens: map[string]map[experiments.Scope]string{}}
	for _, b := range []struct{ binding, env string }{{bindOther, "staging"}, {bindSame, "production"}, {bindUnbound, ""}} {
		f.tokens[b.binding] = map[experiments.Scope]string{}
		for _, s := range []experiments.Scope{experiments.ScopeAdmin, experiments.ScopeAnalyst, experiments.ScopeSDK} {
			_, tok, err := svc.CreateKey(ctx, experiments.Principal{}, string(s), s, b.env)
			if err != nil {
				t.Fatal(err)
			}
			f.tokens[b.binding][s] = tok
		}
	}
	f.sdk = f.tokens[bindUnbound][experiments.ScopeSDK]
	f.group("sentinel") // never named by a request: must never show to staging keys
	return f
}

// experimentsStore is a store the matrix runs on.
type experimentsStore = experiments.Store

// group makes the production resources of one group: a running
// experiment with one exposed customer, a flag, an API key, a cap group.
func (f *envFixture) group(name string) envGroup {
	t := f.t
	t.Helper()
	g := envGroup{exp: name + "-exp", flag: name + "-flag", cust: name + "-cust", capGroup: name + "-cap"}
	b := experimentBody(g.exp)
	delete(b, "condition")
	wantStatus(t, f.do("POST", "/api/v1/experiments", f.admin, b), 201)
	wantStatus(t, f.do("POST", "/api/v1/experiments/"+g.exp+"/start", f.admin, nil), 200)
	wantStatus(t, f.do("POST", "/api/v1/flags", f.admin, flagBody(g.flag, "production")), 201)
	w := f.do("POST", "/api/v1/keys", f.admin, `{"name": "app", "scope": "sdk", "environment": "production"}`)
	wantStatus(t, w, 201)
	g.keyID = decode(t, w)["id"].(string)
	wantStatus(t, f.do("POST", "/api/v1/assign", f.sdk, map[string]any{"unit_id": g.cust, "experiments": []string{g.exp}}), 200)
	wantStatus(t, f.do("PUT", "/api/v1/cap-groups/"+g.capGroup, f.admin, `{"max_exposures": 3, "window_hours": 24}`), 200)
	return g
}

// path fills the route's parameters with the group's resources.
func (g envGroup) path(pattern string) string {
	key := g.exp
	switch {
	case strings.Contains(pattern, "/flags/"):
		key = g.flag
	case strings.Contains(pattern, "/cap-groups/"):
		key = g.capGroup
	}
	id := g.keyID
	if strings.Contains(pattern, "/customers/") {
		id = g.cust
	}
	return strings.NewReplacer(":key", key, ":id", id).Replace(pattern)
}

// production is what the store holds of the production environment, to
// compare around a request of a key bound to staging (last-use times of
// keys left out: authenticating touches them).
func (f *envFixture) production() string {
	t := f.t
	t.Helper()
	ctx := context.Background()
	exps, err := f.svc.ListExperiments(ctx, experiments.ExperimentFilter{Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	flags, err := f.svc.ListFlags(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := f.svc.ListKeys(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, k := range keys {
		ks = append(ks, fmt.Sprint(k.ID, k.Scope, k.RevokedAt))
	}
	audit, err := f.svc.Audit(ctx, 1000, 0, "production")
	if err != nil {
		t.Fatal(err)
	}
	var stats []string
	for _, e := range exps {
		ss, err := f.svc.SufficientStats(ctx, experiments.StatsQuery{Experiment: e.Key})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ss)
		stats = append(stats, string(b))
	}
	var caps []string
	for _, e := range exps {
		if g, err := f.svc.GetCapGroup(ctx, strings.TrimSuffix(e.Key, "-exp")+"-cap"); err == nil {
			caps = append(caps, fmt.Sprint(g.Name, g.MaxExposures, g.Window))
		}
	}
	b, _ := json.Marshal([]any{exps, flags, ks, len(audit), stats, caps})
	return string(b)
}

// TestEnvironmentBindingOnEveryRoute calls every authenticated route of
// Routes() with keys of each allowed scope bound to the environment of the
// production resources it names, bound to staging, and unbound, on both
// stores. A staging key gets the 404 of a missing resource where the route
// names one, 403 environment_bound where the route acts on every
// environment, sees nothing of production where the route answers within
// the caller's environment, and never changes what production holds.
func TestEnvironmentBindingOnEveryRoute(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := newEnvFixture(t, openBadInputStore(t, kind))
			seen := map[string]bool{}
			for i, r := range Routes() {
				id := r.Method + " " + r.Path
				if r.Scopes == nil {
					if r.Env != EnvPublic {
						t.Errorf("%s: a route without a key has rule %v, want public", id, r.Env)
					}
					continue
				}
				if seen[id] {
					continue
				}
				seen[id] = true
				body, ok := envCases[id]
				if !ok {
					t.Errorf("%s has no case in envCases: add one, with its EnvRule (docs/security.md)", id)
					continue
				}
				if r.Env == envUnset || r.Env == EnvPublic {
					t.Errorf("%s: rule %v for an authenticated route", id, r.Env)
					continue
				}
				for j, binding := range []string{bindOther, bindSame, bindUnbound} {
					f.t = t
					g := f.group(fmt.Sprintf("r%d-%d", i, j))
					t.Run(id+"/"+binding, func(t *testing.T) {
						f.t = t
						for _, scope := range r.Scopes {
							var b any
							if body != nil {
								b = body(g)
							}
							f.check(t, r, binding, scope, g, b)
						}
					})
				}
			}
		})
	}
}

// check sends one request of the matrix and checks its answer.
func (f *envFixture) check(t *testing.T, r Route, binding string, scope experiments.Scope, g envGroup, body any) {
	t.Helper()
	before := ""
	if binding == bindOther {
		before = f.production()
	}
	timeout := 30 * time.Second
	if strings.HasSuffix(r.Path, "/stream") {
		timeout = 200 * time.Millisecond // the stream ends with it
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	w := f.doCtx(ctx, r.Method, g.path(r.Path), f.tokens[binding][scope], body)
	cancel()
	who := fmt.Sprintf("scope %s %s: %d %.300s", scope, binding, w.Code, w.Body)
	if w.Code == 401 || w.Code >= 500 {
		t.Errorf("%s", who)
		return
	}
	refusedBound := w.Code == 403 && strings.Contains(w.Body.String(), "environment_bound")
	switch binding {
	case bindOther:
		switch r.Env {
		case EnvExperiment, EnvFlag, EnvKey:
			if w.Code != 404 {
				t.Errorf("%s, want 404 as for a missing resource", who)
			}
		case EnvGlobal:
			if !refusedBound {
				t.Errorf("%s, want 403 environment_bound", who)
			}
		default:
			f.noLeak(t, who, w, g, g.path(r.Path), body)
		}
		if after := f.production(); after != before {
			t.Errorf("%s changed production:\nbefore %s\nafter  %s", who, before, after)
		}
	case bindSame:
		if r.Env == EnvGlobal {
			if !refusedBound {
				t.Errorf("%s, want 403 environment_bound", who)
			}
		} else if w.Code == 403 || w.Code == 404 {
			t.Errorf("%s, want the route to act", who)
		}
	case bindUnbound:
		if w.Code == 403 || w.Code == 404 {
			t.Errorf("%s, want the route to act", who)
		}
	}
}

// noLeak fails when the answer names a production resource the request
// did not name itself.
func (f *envFixture) noLeak(t *testing.T, who string, w *httptest.ResponseRecorder, g envGroup, path string, body any) {
	t.Helper()
	sent, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		sent = []byte(s)
	}
	for _, name := range []string{"sentinel-exp", "sentinel-flag", "sentinel-cap", g.exp, g.flag, g.keyID} {
		if strings.Contains(path, name) || strings.Contains(string(sent), name) {
			continue
		}
		if strings.Contains(w.Body.String(), name) {
			t.Errorf("%s: the answer names production's %q", who, name)
		}
	}
}

// TestBoundAdminKeyMintsOnlyItsOwnKeys: an admin key bound to staging
// mints keys bound to staging, never unbound ones nor keys of production,
// and lists only staging's keys and audit entries.
func TestBoundAdminKeyMintsOnlyItsOwnKeys(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.do("POST", "/api/v1/keys", e.admin, `{"name": "staging admin", "scope": "admin", "environment": "staging"}`)
	wantStatus(t, w, 201)
	staging := decode(t, w)["token"].(string)
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, designExperiment), 201)

	w = e.do("POST", "/api/v1/keys", staging, `{"name": "escalate", "scope": "admin"}`)
	wantStatus(t, w, 201)
	if env := decode(t, w)["environment"]; env != "staging" {
		t.Fatalf("a key minted by a staging admin key without environment has environment %v, want staging", env)
	}
	if p := problem(t, e.do("POST", "/api/v1/keys", staging, `{"name": "x", "scope": "admin", "environment": "production"}`), 403); p.Field != "environment" {
		t.Fatalf("minting a production key: %+v", p)
	}
	st := experimentBody("staging-exp")
	delete(st, "environment")
	w = e.do("POST", "/api/v1/experiments", staging, st)
	wantStatus(t, w, 201)
	if env := decode(t, w)["environment"]; env != "staging" {
		t.Fatalf("an experiment created by a staging key has environment %v", env)
	}
	w = e.do("GET", "/api/v1/keys", staging, nil)
	wantStatus(t, w, 200)
	for _, k := range decode(t, w)["keys"].([]any) {
		if env := k.(map[string]any)["environment"]; env != "staging" {
			t.Errorf("a staging key lists key %v", k)
		}
	}
	w = e.do("GET", "/api/v1/audit", staging, nil)
	wantStatus(t, w, 200)
	entries := decode(t, w)["entries"].([]any)
	if len(entries) == 0 {
		t.Fatal("a staging key sees no audit entry of staging")
	}
	for _, en := range entries {
		m := en.(map[string]any)
		if m["environment"] != "staging" || slices.Contains([]any{"experiment:spring-sale"}, m["resource"]) {
			t.Errorf("a staging key lists audit entry %v", m)
		}
	}
}
