package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/sdk"
	"github.com/promolift/promolift/sdk/ofprovider"
)

// e2eServer is the real API (New over a SQLite store in a temporary
// directory) served by an http.Server on a loopback listener. The server
// can be stopped and started again on the same address; the store stays.
type e2eServer struct {
	t     *testing.T
	svc   *experiments.Service
	store *sqlite.Store
	h     http.Handler
	addr  string
	url   string
	admin string
	sdk   string

	mu  sync.Mutex
	srv *http.Server
}

func newE2EServer(t *testing.T) *e2eServer {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	svc := experiments.NewService(store, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	_, sdkKey, err := svc.CreateKey(ctx, experiments.Principal{}, "e2e-sdk", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	s := &e2eServer{t: t, svc: svc, store: store, h: New(svc, Config{}, nil), admin: adminToken, sdk: sdkKey}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.url = "http://" + s.addr
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *e2eServer) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop closes the listener and every connection (streams included).
func (s *e2eServer) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restart serves the same store on the same address again.
func (s *e2eServer) restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// call sends a JSON request and decodes a JSON reply into out (when not nil).
func (s *e2eServer) call(method, path, token string, body, out any) int {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// startExperiment creates and starts an experiment through the API (the
// body of DESIGN §6).
func (s *e2eServer) startExperiment(key string) {
	s.t.Helper()
	s.call("POST", "/api/v1/experiments", s.admin, map[string]any{
		"key": key, "name": "Spring sale coupon", "hypothesis": "10% off lifts purchases",
		"unit_attribute": "id", "seed": key, "hash_version": 2, "coverage": 1.0,
		"variants": []map[string]any{
			{"key": "control", "weight": 0.5, "promotion": map[string]any{"type": "none"}},
			{"key": "ten_off", "weight": 0.5, "promotion": map[string]any{"type": "percent_off", "value": 10}},
		},
		"condition":      map[string]any{"country": map[string]any{"$in": []string{"KR", "JP"}}},
		"primary_metric": "purchase", "attribution_window_hours": 168,
	}, nil)
	s.call("POST", "/api/v1/experiments/"+key+"/start", s.admin, nil, nil)
}

// seedE2E starts spring-sale and creates the spring-sale-gate flag (both
// as DESIGN §6 writes them) and a disabled flag, all through the API.
func (s *e2eServer) seedE2E() {
	s.startExperiment("spring-sale")
	s.call("POST", "/api/v1/flags", s.admin, map[string]any{
		"key": "spring-sale-gate", "type": "boolean", "variants": map[string]any{"on": true, "off": false},
		"default_variant": "off", "enabled": true,
		"rules": []map[string]any{
			{"condition": map[string]any{"tier": "gold"}, "variant": "on"},
			{"rollout": 0.25, "variant": "on"},
		},
	}, nil)
	s.call("POST", "/api/v1/flags", s.admin, map[string]any{
		"key": "winter-gate", "type": "boolean", "variants": map[string]any{"on": true, "off": false},
		"default_variant": "off", "enabled": false,
	}, nil)
}

// newSDK starts a Go SDK client against s that follows the stream.
func (s *e2eServer) newSDK(t *testing.T, cfg sdk.Config) *sdk.Client {
	t.Helper()
	cfg.ServerURL, cfg.Key, cfg.Stream = s.url, s.sdk, true
	c, err := sdk.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("sdk WaitReady: %v", err)
	}
	return c
}

// e2eEval is what the Go provider reported for one flag evaluation.
type e2eEval struct {
	value             any
	variant           string
	reason, errorCode string
}

// TestEndToEnd runs the real server and checks that the Go SDK, the Go
// OpenFeature provider, the Node OFREP provider and POST /api/v1/assign
// give every unit the same variant, that flag reasons and error codes agree
// between the Go provider and OFREP, and that a purchase tracked through
// the provider is stored and attributed.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := newE2EServer(t)
	s.seedE2E()
	ctx := context.Background()

	client := s.newSDK(t, sdk.Config{FlushInterval: 100 * time.Millisecond})
	provider, err := ofprovider.New(sdk.Config{ServerURL: s.url, Key: s.sdk, Stream: true,
		FlushInterval: 100 * time.Millisecond}, ofprovider.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const domain = "promolift-e2e"
	if err := openfeature.SetNamedProviderAndWait(domain, provider); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = openfeature.SetNamedProviderAndWait(domain, openfeature.NoopProvider{}) })
	of := openfeature.NewClient(domain)

	// The experiment read four ways.
	const units = 60
	var cases []nodeCase
	goVariant := make([]string, units)
	ofVariant := make([]string, units)
	apiVariant := make([]string, units)
	seen := map[string]int{}
	for i := range units {
		u := fmt.Sprintf("cust-%d", i)
		a := client.Run("spring-sale", assign.Attributes{"id": u, "country": "KR"})
		if a.Err != nil || !a.InExperiment {
			t.Fatalf("sdk Run(%s) = %+v", u, a)
		}
		goVariant[i] = a.Variant
		seen[a.Variant]++
		d, err := of.StringValueDetails(ctx, "spring-sale", "fallback",
			openfeature.NewEvaluationContext(u, map[string]any{"country": "KR"}))
		if err != nil || d.Reason != openfeature.SplitReason || d.Value != d.Variant {
			t.Fatalf("provider spring-sale %s: %+v (%v)", u, d, err)
		}
		ofVariant[i] = d.Variant
		var out AssignResponse
		s.call("POST", "/api/v1/assign", s.sdk, map[string]any{"unit_id": u,
			"attributes": map[string]any{"country": "KR"}, "experiments": []string{"spring-sale"}}, &out)
		if len(out.Assignments) != 1 || !out.Assignments[0].InExperiment {
			t.Fatalf("/assign %s: %+v", u, out)
		}
		apiVariant[i] = out.Assignments[0].Variant
		cases = append(cases, nodeCase{Flag: "spring-sale", Type: "string", Default: "fallback",
			Context: map[string]any{"targetingKey": u, "country": "KR"}})
	}
	if len(seen) != 2 {
		t.Errorf("variants over %d units: %v, want both", units, seen)
	}

	// Flag reasons and error codes: the Go provider against OFREP.
	type flagCase struct {
		flag string
		ctx  map[string]any // "targetingKey" is the targeting key
		want string         // reason, or error code
	}
	inRollout, outRollout := "", ""
	for i := 0; inRollout == "" || outRollout == ""; i++ {
		u := fmt.Sprintf("cust-%d", i)
		ev := client.Evaluate("spring-sale-gate", assign.Attributes{"id": u, "tier": "silver"})
		switch {
		case ev.Reason == sdk.ReasonSplit && inRollout == "":
			inRollout = u
		case ev.Reason == sdk.ReasonDefault && outRollout == "":
			outRollout = u
		}
	}
	flagCases := []flagCase{
		{"spring-sale-gate", map[string]any{"targetingKey": "cust-1", "tier": "gold"}, "TARGETING_MATCH"},
		{"spring-sale-gate", map[string]any{"targetingKey": inRollout, "tier": "silver"}, "SPLIT"},
		{"spring-sale-gate", map[string]any{"targetingKey": outRollout, "tier": "silver"}, "DEFAULT"},
		{"winter-gate", map[string]any{"targetingKey": "cust-1"}, "DISABLED"},
		{"no-such-flag", map[string]any{"targetingKey": "cust-1"}, "FLAG_NOT_FOUND"},
		{"spring-sale-gate", map[string]any{"tier": "silver"}, "TARGETING_KEY_MISSING"},
		{"spring-sale", map[string]any{"country": "KR"}, "TARGETING_KEY_MISSING"},
		{"spring-sale", map[string]any{"targetingKey": "cust-1", "country": "US"}, "DEFAULT"},
	}
	goFlag := make([]e2eEval, len(flagCases))
	for i, fc := range flagCases {
		attrs := map[string]any{}
		tk := ""
		for k, v := range fc.ctx {
			if k == "targetingKey" {
				tk = v.(string)
				continue
			}
			attrs[k] = v
		}
		ec := openfeature.NewEvaluationContext(tk, attrs)
		var g e2eEval
		if fc.flag == "spring-sale" {
			d, _ := of.StringValueDetails(ctx, fc.flag, "fallback", ec)
			g = e2eEval{d.Value, d.Variant, string(d.Reason), string(d.ErrorCode)}
		} else {
			d, _ := of.BooleanValueDetails(ctx, fc.flag, false, ec)
			g = e2eEval{d.Value, d.Variant, string(d.Reason), string(d.ErrorCode)}
		}
		goFlag[i] = g
		got := g.reason
		if g.errorCode != "" {
			got = g.errorCode
			if g.reason != "ERROR" {
				t.Errorf("Go provider %s %v: reason %s with error code %s", fc.flag, fc.ctx, g.reason, g.errorCode)
			}
		}
		if got != fc.want {
			t.Errorf("Go provider %s %v: %+v, want %s", fc.flag, fc.ctx, g, fc.want)
		}
		typ := "boolean"
		var def any = false
		if fc.flag == "spring-sale" {
			typ, def = "string", "fallback"
		}
		cases = append(cases, nodeCase{Flag: fc.flag, Type: typ, Default: def, Context: fc.ctx})
	}

	got := runNodeOFREP(t, s.url, s.sdk, cases)
	for i := range units {
		g := got[i]
		if g.Variant != goVariant[i] || g.Variant != ofVariant[i] || g.Variant != apiVariant[i] ||
			fmt.Sprint(g.Value) != goVariant[i] || g.Reason != "SPLIT" {
			t.Errorf("unit cust-%d: sdk %s, provider %s, /assign %s, node OFREP %+v",
				i, goVariant[i], ofVariant[i], apiVariant[i], g)
		}
	}
	for i, fc := range flagCases {
		g, n := goFlag[i], got[units+i]
		if g.reason != n.Reason || g.errorCode != n.ErrorCode {
			t.Errorf("%s %v: Go provider %+v, node OFREP %+v", fc.flag, fc.ctx, g, n)
		}
		// Values and variants agree too, except DISABLED: the Go provider
		// gives the caller's default, OFREP the flag's default variant.
		if n.Reason != "DISABLED" && (fmt.Sprint(g.value) != fmt.Sprint(n.Value) || g.variant != n.Variant) {
			t.Errorf("%s %v: Go provider value %v variant %q, node OFREP %v %q",
				fc.flag, fc.ctx, g.value, g.variant, n.Value, n.Variant)
		}
	}

	// A purchase through the provider becomes an attributed conversion.
	buyer := openfeature.NewEvaluationContext("cust-3", map[string]any{"country": "KR"})
	of.Track(ctx, "purchase", buyer, openfeature.NewTrackingEventDetails(125000).Add("currency", "KRW"))
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := provider.ShutdownWithContext(closeCtx); err != nil {
		t.Fatalf("provider shutdown: %v", err)
	}
	if err := client.Close(closeCtx); err != nil {
		t.Fatalf("sdk Close: %v", err)
	}
	st, err := s.svc.SufficientStats(ctx, experiments.StatsQuery{Experiment: "spring-sale"})
	if err != nil {
		t.Fatal(err)
	}
	var converted int64
	var revenue float64
	for _, m := range st.Metrics {
		if m.Metric == "purchase" && m.Variant == goVariant[3] {
			converted += m.Converted
			revenue += m.Revenue
		}
	}
	if converted != 1 || revenue != 125000 {
		t.Errorf("purchase of cust-3 in %s: converted %d revenue %v, want 1 and 125000; stats %+v",
			goVariant[3], converted, revenue, st.Metrics)
	}
	var exposed int64
	for _, v := range st.Variants {
		exposed += v.Units
	}
	if exposed != units {
		t.Errorf("exposed units %d, want %d", exposed, units)
	}
}

// TestEndToEndServerDown stops the real server under running SDK clients:
// evaluation keeps working from the snapshot, conversions tracked while it
// is down are stored once each after it comes back on the same address, and
// a config change reaches a streaming client within a second.
func TestEndToEndServerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := newE2EServer(t)
	s.seedE2E()
	ctx := context.Background()
	client := s.newSDK(t, sdk.Config{FlushInterval: 50 * time.Millisecond, RetryBackoff: 20 * time.Millisecond,
		PollInterval: time.Minute, MaxRetries: 2}) // config changes must come through the stream
	attrs := func(u string) assign.Attributes { return assign.Attributes{"id": u, "country": "KR"} }
	before := make(map[string]string)
	for i := range 20 {
		u := fmt.Sprintf("cust-%d", i)
		before[u] = client.Run("spring-sale", attrs(u)).Variant
	}

	s.stop()
	// Evaluation keeps working from the snapshot.
	for u, v := range before {
		if a := client.Run("spring-sale", attrs(u)); a.Err != nil || a.Variant != v {
			t.Fatalf("server down: Run(%s) = %+v, want %s", u, a, v)
		}
	}
	if ev := client.Evaluate("spring-sale-gate", assign.Attributes{"id": "cust-1", "tier": "gold"}); ev.Reason != sdk.ReasonTargetingMatch {
		t.Fatalf("server down: gate = %+v", ev)
	}
	// Conversions tracked while down.
	const down = 10
	for i := range down {
		if err := client.Track(fmt.Sprintf("cust-%d", i), "purchase-down", 1000, "KRW",
			sdk.WithOrderID(fmt.Sprintf("order-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let sends fail and retry
	if n := countEvents(t, s, "purchase-down"); n.rows != 0 {
		t.Fatalf("%d events stored while the server was down", n.rows)
	}

	s.restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := countEvents(t, s, "purchase-down")
		if n.rows == down {
			if n.distinct != down || n.orders != down {
				t.Fatalf("stored %d rows, %d event ids, %d orders; want %d each", n.rows, n.distinct, n.orders, down)
			}
			break
		}
		if n.rows > down {
			t.Fatalf("stored %d events, want %d", n.rows, down)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart: %d of %d events stored; sdk stats %+v", n.rows, down, client.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The stream reconnects; a new experiment reaches the client within 1 s.
	changed := make(chan string, 16)
	unsub := client.Subscribe(func(n sdk.Notification) {
		if n.Kind == sdk.NotifyChanged {
			changed <- n.Version
		}
	})
	defer unsub()
	waitStream(t, s, client)
	start := time.Now()
	s.startExperiment("summer-sale")
	for {
		a := client.Run("summer-sale", attrs("cust-1"))
		if a.Err == nil {
			if !a.InExperiment {
				t.Fatalf("summer-sale: %+v", a)
			}
			break
		}
		if !errors.Is(a.Err, assign.ErrUnknownExperiment) {
			t.Fatalf("summer-sale: %v", a.Err)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("the new experiment did not reach the client within 1 s (stats %+v)", client.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("config change reached the client in %v", time.Since(start))

	// Nothing is sent twice: Close flushes, and each tracked conversion is
	// still one row.
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, s, "purchase-down"); n.rows != down || n.distinct != down {
		t.Fatalf("after Close: %+v, want %d", n, down)
	}
}

type eventCount struct{ rows, distinct, orders int }

// countEvents counts the raw conversion rows named name in the store.
func countEvents(t *testing.T, s *e2eServer, name string) eventCount {
	t.Helper()
	var n eventCount
	err := s.store.DB().QueryRowx(`SELECT COUNT(*), COUNT(DISTINCT event_id), COUNT(DISTINCT order_id)
		FROM events WHERE type = 'conversion' AND name = ?`, name).Scan(&n.rows, &n.distinct, &n.orders)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitStream waits until the client's stream is connected again: a config
// change (a new scratch flag) arrives; the client polls only every minute.
func waitStream(t *testing.T, s *e2eServer, c *sdk.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		key := fmt.Sprintf("scratch-%d", i)
		s.call("POST", "/api/v1/flags", s.admin, map[string]any{
			"key": key, "type": "boolean", "variants": map[string]any{"on": true, "off": false},
			"default_variant": "on", "enabled": true,
		}, nil)
		until := time.Now().Add(150 * time.Millisecond)
		for time.Now().Before(until) {
			if ev := c.Evaluate(key, nil); ev.Reason == sdk.ReasonStatic {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not reconnect (stats %+v)", c.Stats())
		}
	}
}
