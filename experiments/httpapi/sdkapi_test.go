package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// sdkEnv is a running API over a fresh SQLite file with one key per scope.
type sdkEnv struct {
	svc                 *experiments.Service
	srv                 *httptest.Server
	admin, sdk, analyst string
	stopStreams         context.CancelFunc
	adminPrincipal      experiments.Principal
}

func newSDKEnv(t *testing.T) *sdkEnv {
	t.Helper()
	return newSDKEnvConfig(t, Config{})
}

// newSDKEnvConfig is newSDKEnv with the API configured by cfg.
func newSDKEnvConfig(t *testing.T, cfg Config) *sdkEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	svc := experiments.NewService(st, nil)
	e := &sdkEnv{svc: svc, adminPrincipal: experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}}
	for _, k := range []struct {
		scope experiments.Scope
		dst   *string
	}{{experiments.ScopeAdmin, &e.admin}, {experiments.ScopeSDK, &e.sdk}, {experiments.ScopeAnalyst, &e.analyst}} {
		_, token, err := svc.CreateKey(ctx, e.adminPrincipal, string(k.scope), k.scope, "")
		if err != nil {
			t.Fatal(err)
		}
		*k.dst = token
	}
	base, cancel := context.WithCancel(context.Background())
	e.stopStreams = cancel
	e.srv = httptest.NewUnstartedServer(New(svc, cfg, nil))
	e.srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	e.srv.Start()
	t.Cleanup(func() { cancel(); e.srv.Close() })
	return e
}

// seed defines the experiments and flags the tests use.
func (e *sdkEnv) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	exp := func(key string, cond string) *experiments.Experiment {
		x := &experiments.Experiment{Key: key, Coverage: 1, Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
		}}
		if cond != "" {
			x.Condition = json.RawMessage(cond)
		}
		if err := e.svc.CreateExperiment(ctx, e.adminPrincipal, x); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Transition(ctx, e.adminPrincipal, key, experiments.ActionStart); err != nil {
			t.Fatal(err)
		}
		return x
	}
	exp("spring-sale", "")
	exp("kr-sale", `{"country": "KR"}`)
	exp("paused-sale", "")
	if _, err := e.svc.Transition(ctx, e.adminPrincipal, "paused-sale", experiments.ActionPause); err != nil {
		t.Fatal(err)
	}
	bools := map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)}
	for _, f := range []*experiments.Flag{
		{Key: "static-flag", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "on", Enabled: true},
		{Key: "off-flag", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off"},
		{Key: "spring-sale-gate", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off", Enabled: true,
			Rules: []experiments.FlagRule{{Condition: json.RawMessage(`{"tier": "gold"}`), Variant: "on"}}},
		{Key: "rollout-flag", Type: experiments.FlagBoolean, Variants: bools, DefaultVariant: "off", Enabled: true,
			Rules: []experiments.FlagRule{{Rollout: func() *float64 { v := 0.5; return &v }(), Variant: "on"}}},
	} {
		if err := e.svc.CreateFlag(ctx, e.adminPrincipal, f); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *sdkEnv) do(t *testing.T, method, path, token string, body any, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (e *sdkEnv) exposures(t *testing.T, exp string) int64 {
	t.Helper()
	st, err := e.svc.SufficientStats(context.Background(), experiments.StatsQuery{Experiment: exp})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, v := range st.Variants {
		n += v.Exposures
	}
	return n
}

func TestAssignRouteMatchesSpec(t *testing.T) {
	e := newSDKEnv(t)
	e.seed(t)
	spec, _, err := e.svc.SDKSpec(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	const units = 1000
	inExp := int64(0)
	for i := range units {
		id := fmt.Sprintf("u%d", i)
		resp, body := e.do(t, "POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": id, "experiments": []string{"spring-sale"}})
		if resp.StatusCode != 200 {
			t.Fatalf("assign %s: %d %s", id, resp.StatusCode, body)
		}
		var out AssignResponse
		if err := json.Unmarshal(body, &out); err != nil || len(out.Assignments) != 1 {
			t.Fatalf("assign %s: %s", id, body)
		}
		got := out.Assignments[0]
		want, _ := spec.Run("spring-sale", assign.Attributes{"id": id})
		if got.Variant != want.VariantKey || got.InExperiment != want.InExperiment || got.Bucket != want.Bucket ||
			got.HashAttribute != "id" || got.HashValue != id || got.Experiment != "spring-sale" {
			t.Fatalf("unit %s: /assign %+v, spec %+v", id, got, want)
		}
		if got.InExperiment {
			inExp++
		}
	}
	if n := e.exposures(t, "spring-sale"); n != inExp {
		t.Fatalf("%d exposures after one call per unit, want %d", n, inExp)
	}
	// The same units again on the same day: no new exposures.
	for i := range 100 {
		e.do(t, "POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": fmt.Sprintf("u%d", i), "experiments": []string{"spring-sale"}})
	}
	if n := e.exposures(t, "spring-sale"); n != inExp {
		t.Fatalf("%d exposures after repeating calls, want still %d", n, inExp)
	}
	// log_exposure false stores nothing.
	e.do(t, "POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": "new-unit", "log_exposure": false})
	if n := e.exposures(t, "spring-sale"); n != inExp {
		t.Fatalf("log_exposure false stored an exposure")
	}
}

func TestAssignRouteErrors(t *testing.T) {
	e := newSDKEnv(t)
	e.seed(t)
	tests := []struct {
		name      string
		token     string
		body      any
		status    int
		wantField string
	}{
		{"all running", e.sdk, map[string]any{"unit_id": "u1", "attributes": map[string]any{"country": "KR"}}, 200, ""},
		{"unknown experiment", e.sdk, map[string]any{"unit_id": "u1", "experiments": []string{"spring-sale", "nope"}}, 422, "experiments[1]"},
		{"missing unit", e.sdk, map[string]any{"experiments": []string{"spring-sale"}}, 422, "unit_id"},
		{"wrong type", e.sdk, []byte(`{"unit_id": 5}`), 400, "unit_id"},
		{"no key", "", map[string]any{"unit_id": "u1"}, 401, ""},
		{"analyst key", e.analyst, map[string]any{"unit_id": "u1"}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, "POST", "/api/v1/assign", tt.token, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.wantField != "" {
				var p Problem
				_ = json.Unmarshal(body, &p)
				if p.Field != tt.wantField {
					t.Errorf("problem field %q, want %q: %s", p.Field, tt.wantField, body)
				}
			}
			if tt.status == 200 {
				var out AssignResponse
				_ = json.Unmarshal(body, &out)
				if len(out.Assignments) != 2 { // spring-sale and kr-sale; paused-sale is not running
					t.Errorf("assignments %s, want the 2 running experiments", body)
				}
			}
		})
	}
}

func TestSDKConfigETag(t *testing.T) {
	e := newSDKEnv(t)
	e.seed(t)
	resp, body := e.do(t, "GET", "/api/v1/sdk/config", e.sdk, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("config: %d ETag %q", resp.StatusCode, etag)
	}
	spec, err := assign.DecodeSpec(body)
	if err != nil {
		t.Fatalf("config does not decode as assign.Spec: %v", err)
	}
	if `"`+spec.Version+`"` != etag || len(spec.Experiments) != 3 {
		t.Errorf("spec version %q, %d experiments; want the etag %s and 3 experiments", spec.Version, len(spec.Experiments), etag)
	}
	steps := []struct {
		name        string
		ifNoneMatch string
		change      bool
		status      int
	}{
		{"same etag", etag, false, 304},
		{"weak form and list", `"x", W/` + etag, false, 304},
		{"other etag", `"other"`, false, 200},
		{"after a change", etag, true, 200},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.change {
				if _, err := e.svc.Transition(context.Background(), e.adminPrincipal, "kr-sale", experiments.ActionPause); err != nil {
					t.Fatal(err)
				}
			}
			resp, body := e.do(t, "GET", "/api/v1/sdk/config", e.sdk, nil, "If-None-Match", s.ifNoneMatch)
			if resp.StatusCode != s.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, s.status)
			}
			if s.status == 304 && (len(body) != 0 || resp.Header.Get("ETag") != etag) {
				t.Errorf("304 with body %q, ETag %q", body, resp.Header.Get("ETag"))
			}
			if s.change && resp.Header.Get("ETag") == etag {
				t.Errorf("ETag unchanged after a change")
			}
		})
	}
	if resp, _ := e.do(t, "GET", "/api/v1/sdk/config", e.analyst, nil); resp.StatusCode != 403 {
		t.Errorf("analyst key: %d, want 403", resp.StatusCode)
	}
}

// sseEvents reads server-sent events ("event" and "data" fields, and
// comments as "comment") from r until it ends.
func sseEvents(r io.Reader) <-chan [2]string {
	ch := make(chan [2]string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		var ev, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != "" || data != "" {
					ch <- [2]string{ev, data}
				}
				ev, data = "", ""
			case strings.HasPrefix(line, ":"):
				ch <- [2]string{"comment", strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "event: "):
				ev = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data = line[len("data: "):]
			}
		}
	}()
	return ch
}

func TestSDKStream(t *testing.T) {
	e := newSDKEnv(t)
	e.seed(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/sdk/stream", nil)
	req.Header.Set("Authorization", "Bearer "+e.sdk)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := sseEvents(resp.Body)
	next := func(within time.Duration) (string, string) {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			return ev[0], ev[1]
		case <-time.After(within):
			t.Fatalf("no event within %s", within)
		}
		return "", ""
	}
	_, etag, _ := e.svc.SDKSpec(context.Background(), "")
	if ev, data := next(time.Second); ev != "config" || data != `{"version":"`+etag+`"}` {
		t.Fatalf("first event %q %q, want config with version %s", ev, data, etag)
	}
	for _, action := range []experiments.Action{experiments.ActionPause, experiments.ActionResume} {
		start := time.Now()
		if _, err := e.svc.Transition(context.Background(), e.adminPrincipal, "spring-sale", action); err != nil {
			t.Fatal(err)
		}
		ev, data := next(time.Second)
		_, now, _ := e.svc.SDKSpec(context.Background(), "")
		if ev != "config" || data != `{"version":"`+now+`"}` || now == etag {
			t.Fatalf("after %s: %q %q, want config with the new version %s", action, ev, data, now)
		}
		t.Logf("%s reached the stream in %s", action, time.Since(start))
		etag = now
	}
	// Server shutdown (the base context ends) closes the stream.
	e.stopStreams()
	select {
	case _, ok := <-events:
		for ok {
			_, ok = <-events
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stream still open after shutdown")
	}
}

func (e *sdkEnv) ofrep(t *testing.T, path string, body any, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, b := e.do(t, "POST", path, "", body, hdr...)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %d, not JSON: %s", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func TestOFREPSingle(t *testing.T) {
	e := newSDKEnv(t)
	e.seed(t)
	spec, _, _ := e.svc.SDKSpec(context.Background(), "")
	sale, _ := spec.Run("spring-sale", assign.Attributes{"id": "u1"})
	rollout := spec.EvalFeature("rollout-flag", assign.Attributes{"id": "u1"})
	rolloutReason, rolloutVariant := "DEFAULT", "off"
	if rollout.Source == assign.SourceForce {
		rolloutReason, rolloutVariant = "SPLIT", "on"
	}
	auth := []string{"Authorization", "Bearer " + e.sdk}
	ctx := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"context": m}
	}
	tests := []struct {
		name        string
		key         string
		body        any
		hdr         []string
		status      int
		wantReason  string
		wantVariant string
		wantValue   any
		wantCode    string
	}{
		{"static", "static-flag", ctx(), auth, 200, "STATIC", "on", true, ""},
		{"disabled", "off-flag", ctx("targetingKey", "u1"), auth, 200, "DISABLED", "off", false, ""},
		{"targeting match", "spring-sale-gate", ctx("targetingKey", "u1", "tier", "gold"), auth, 200, "TARGETING_MATCH", "on", true, ""},
		{"default", "spring-sale-gate", ctx("targetingKey", "u1", "tier", "silver"), auth, 200, "DEFAULT", "off", false, ""},
		{"rollout", "rollout-flag", ctx("targetingKey", "u1"), auth, 200, rolloutReason, rolloutVariant, rolloutVariant == "on", ""},
		{"experiment split", "spring-sale", ctx("targetingKey", "u1"), auth, 200, "SPLIT", sale.VariantKey, sale.VariantKey, ""},
		{"experiment via X-API-Key", "spring-sale", ctx("targetingKey", "u1"), []string{"X-API-Key", e.sdk}, 200, "SPLIT", sale.VariantKey, sale.VariantKey, ""},
		{"experiment condition fails", "kr-sale", ctx("targetingKey", "u1", "country", "JP"), auth, 200, "DEFAULT", "control", "control", ""},
		{"paused experiment", "paused-sale", ctx("targetingKey", "u1"), auth, 200, "DISABLED", "control", "control", ""},
		{"targeting key missing", "spring-sale", ctx("country", "KR"), auth, 400, "", "", nil, "TARGETING_KEY_MISSING"},
		{"targeting key not a string", "spring-sale", ctx("targetingKey", 5), auth, 400, "", "", nil, "INVALID_CONTEXT"},
		{"context not an object", "spring-sale", map[string]any{"context": []int{1}}, auth, 400, "", "", nil, "INVALID_CONTEXT"},
		{"malformed body", "spring-sale", []byte(`{"context": `), auth, 400, "", "", nil, "PARSE_ERROR"},
		{"flag not found", "nope", ctx("targetingKey", "u1"), auth, 404, "", "", nil, "FLAG_NOT_FOUND"},
		{"no key", "static-flag", ctx(), nil, 401, "", "", nil, ""},
		{"bad key", "static-flag", ctx(), []string{"X-API-Key", "pl_abcd_0123456789abcdefghij"}, 401, "", "", nil, ""},
		{"analyst key", "static-flag", ctx(), []string{"Authorization", "Bearer " + e.analyst}, 403, "", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.ofrep(t, "/ofrep/v1/evaluate/flags/"+tt.key, tt.body, tt.hdr...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			switch {
			case status == 200:
				if out["key"] != tt.key || out["reason"] != tt.wantReason || out["variant"] != tt.wantVariant || out["value"] != tt.wantValue {
					t.Errorf("got %v; want reason %s variant %s value %v", out, tt.wantReason, tt.wantVariant, tt.wantValue)
				}
				if _, ok := out["metadata"].(map[string]any); !ok {
					t.Errorf("metadata missing: %v", out)
				}
			case tt.wantCode != "":
				if out["key"] != tt.key || out["errorCode"] != tt.wantCode || out["errorDetails"] == "" {
					t.Errorf("got %v; want key %s errorCode %s", out, tt.key, tt.wantCode)
				}
			}
		})
	}
	// Two OFREP evaluations of u1 and one /assign: one exposure.
	e.do(t, "POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": "u1", "experiments": []string{"spring-sale"}})
	want := int64(0)
	if sale.InExperiment {
		want = 1
	}
	if n := e.exposures(t, "spring-sale"); n != want {
		t.Errorf("spring-sale exposures %d, want %d (OFREP and /assign share the event id)", n, want)
	}
}

func TestOFREPBulk(t *testing.T) {
	e := newSDKEnv(t)
	e.seed(t)
	auth := []string{"Authorization", "Bearer " + e.sdk}
	body := map[string]any{"context": map[string]any{"targetingKey": "u2", "tier": "gold"}}
	status, out, hdr := e.ofrep(t, "/ofrep/v1/evaluate/flags", body, auth...)
	etag := hdr.Get("ETag")
	if status != 200 || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("bulk: %d %v, ETag %q", status, out, etag)
	}
	got := map[string]string{}
	for _, f := range out["flags"].([]any) {
		m := f.(map[string]any)
		got[m["key"].(string)], _ = m["reason"].(string)
	}
	spec, _, _ := e.svc.SDKSpec(context.Background(), "")
	rollout := "DEFAULT"
	if spec.EvalFeature("rollout-flag", assign.Attributes{"id": "u2"}).Source == assign.SourceForce {
		rollout = "SPLIT"
	}
	want := map[string]string{"static-flag": "STATIC", "off-flag": "DISABLED", "spring-sale-gate": "TARGETING_MATCH",
		"rollout-flag": rollout, "spring-sale": "SPLIT", "kr-sale": "DEFAULT", "paused-sale": "DISABLED"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bulk reasons\n got %v\nwant %v", got, want)
	}
	steps := []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
	}{
		{"same context and etag", body, append([]string{"If-None-Match", etag}, auth...), 304, ""},
		{"other context", map[string]any{"context": map[string]any{"targetingKey": "u3"}}, append([]string{"If-None-Match", etag}, auth...), 200, ""},
		{"bad context", map[string]any{"context": "u3"}, auth, 400, "INVALID_CONTEXT"},
		{"malformed", []byte(`{`), auth, 400, "PARSE_ERROR"},
		{"no key", body, nil, 401, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, out, _ := e.ofrep(t, "/ofrep/v1/evaluate/flags", s.body, s.hdr...)
			if status != s.status || (s.code != "" && out["errorCode"] != s.code) {
				t.Fatalf("status %d %v, want %d %s", status, out, s.status, s.code)
			}
		})
	}
	// Without a targeting key the hashing flags fail one by one.
	_, out, _ = e.ofrep(t, "/ofrep/v1/evaluate/flags", map[string]any{"context": map[string]any{}}, auth...)
	for _, f := range out["flags"].([]any) {
		m := f.(map[string]any)
		if m["key"] == "spring-sale" && m["errorCode"] != "TARGETING_KEY_MISSING" {
			t.Errorf("spring-sale without targeting key: %v", m)
		}
		if m["key"] == "static-flag" && m["reason"] != "STATIC" {
			t.Errorf("static-flag without targeting key: %v", m)
		}
	}
	// A change gives a new ETag.
	if _, err := e.svc.Transition(context.Background(), e.adminPrincipal, "kr-sale", experiments.ActionPause); err != nil {
		t.Fatal(err)
	}
	status, _, hdr = e.ofrep(t, "/ofrep/v1/evaluate/flags", body, append([]string{"If-None-Match", etag}, auth...)...)
	if status != 200 || hdr.Get("ETag") == etag {
		t.Errorf("after a change: %d ETag %s (old %s)", status, hdr.Get("ETag"), etag)
	}
}
