package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/reportsnap"
)

// lockedBuffer collects the output of a command running in a goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listeningLine = regexp.MustCompile(`promolift: listening on (http://\S+)`)

// startServe runs serve in-process and returns its base URL, its stderr,
// and a function that stops it and returns the exit code.
func startServe(t *testing.T, args ...string) (string, *lockedBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), io.Discard, stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listeningLine.FindStringSubmatch(stderr.String()); m != nil {
			stop := func() int {
				cancel()
				select {
				case code := <-done:
					return code
				case <-time.After(20 * time.Second):
					t.Fatal("serve did not stop")
					return -1
				}
			}
			t.Cleanup(func() { cancel() })
			return m[1], stderr, stop
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d before listening:\n%s", code, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not print its address:\n%s", stderr)
		}
	}
}

func TestServeStartsAndStopsCleanly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "serve.db")
	base, stderr, stop := startServe(t, "--db", db)
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	// A generated admin key is shown once, in the box, and never logged.
	out := stderr.String()
	m := regexp.MustCompile(`Admin API key \(shown once\): (pl_\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no admin key printed:\n%s", out)
	}
	token := m[1]
	req, _ := http.NewRequest("GET", base+"/api/v1/experiments", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("list with the printed admin key: %d", resp.StatusCode)
	}
	// An open SSE stream must not hold the shutdown up.
	sreq, _ := http.NewRequest("GET", base+"/api/v1/sdk/stream", nil)
	sreq.Header.Set("Authorization", "Bearer "+token)
	sresp, err := http.DefaultClient.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	go io.Copy(io.Discard, sresp.Body)
	began := time.Now()
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, stderr)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("shutdown with an open stream took %s", d)
	}
	out = stderr.String()
	if strings.Count(out, token) != 1 {
		t.Fatalf("the admin key appears %d times in stderr", strings.Count(out, token))
	}
	if !strings.Contains(out, `"msg":"stopped"`) {
		t.Fatalf("no stopped line:\n%s", out)
	}

	// A second start on the same database generates no new key.
	t.Setenv(envAdminKey, "")
	_, stderr2, stop2 := startServe(t, "--db", db, "--log-format", "text")
	if code := stop2(); code != 0 || strings.Contains(stderr2.String(), "shown once") {
		t.Fatalf("second start: code %d\n%s", code, stderr2)
	}
}

func TestServeAdminKeyFromEnvironment(t *testing.T) {
	const token = "pl_admin0000_quickstart-secret-key"
	t.Setenv(envAdminKey, token)
	base, stderr, stop := startServe(t, "--db", filepath.Join(t.TempDir(), "env.db"))
	req, _ := http.NewRequest("GET", base+"/api/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("keys: %d", resp.StatusCode)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(stderr.String(), token) || strings.Contains(stderr.String(), "quickstart-secret") {
		t.Fatal("the admin key from the environment was printed or logged")
	}
}

// serveUsageCase is a serve command line (args, with the environment env)
// that must exit 2 with a message naming want.
type serveUsageCase struct {
	name string
	args []string
	env  map[string]string
	want string
}

// runServeUsageCases runs promolift serve for each case.
func runServeUsageCases(t *testing.T, cases []serveUsageCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			code := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...), nil, io.Discard, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("code %d, stderr:\n%s\nwant 2 and a message naming %s", code, stderr.String(), c.want)
			}
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []serveUsageCase{
		{"bad addr", []string{"--addr", "nohost"}, nil, "--addr"},
		{"bad max body", []string{"--max-body-bytes", "lots"}, nil, "--max-body-bytes"},
		{"bad batch from env", nil, map[string]string{envMaxBatchEvents: "0"}, envMaxBatchEvents},
		{"bad timeout", []string{"--read-timeout", "soon"}, nil, "--read-timeout"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"bad log format", nil, map[string]string{envLogFormat: "xml"}, envLogFormat},
		{"tls cert alone", []string{"--tls-cert", "c.pem"}, nil, "--tls-key"},
		{"missing tls files", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, "--tls-cert"},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"cors origin without scheme", []string{"--cors-origins", "https://a.example.com, shop.example.com"}, nil, "--cors-origins"},
		{"short admin key", []string{"--db", filepath.Join(dir, "a.db")}, map[string]string{envAdminKey: "short"}, envAdminKey},
	}
	runServeUsageCases(t, cases)
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	t.Setenv(envAddr, "127.0.0.1:9999")
	t.Setenv(envMaxBodyBytes, "2048")
	t.Setenv(envDatabaseURL, "from-env.db")
	cfg, err := parseServeConfig([]string{"--addr", "127.0.0.1:7777"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:7777" || cfg.MaxBodyBytes != 2048 || cfg.DB != "from-env.db" {
		t.Fatalf("%+v", cfg)
	}
	t.Setenv(envAddr, "")
	t.Setenv(envMaxBodyBytes, "")
	t.Setenv(envDatabaseURL, "")
	cfg, err = parseServeConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.DB != defaultDB || cfg.MaxBodyBytes != 1<<20 || cfg.MaxBatchEvents != 1000 ||
		cfg.ShutdownTimeout != 15*time.Second || cfg.LogFormat != "json" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestDescribeDBHidesCredentials(t *testing.T) {
	if got := describeDB("postgres://user:hunter2@db.example:5432/promolift?sslmode=disable"); strings.Contains(got, "hunter2") || !strings.Contains(got, "db.example") {
		t.Fatal(got)
	}
}

func TestIngestLimitOptions(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		perKey  int
		readTO  time.Duration
		wantErr string
	}{
		{name: "defaults", perKey: 0, readTO: 5 * time.Second},
		{name: "flags", args: []string{"--max-ingest-per-key", "-1", "--ingest-read-timeout", "2s"}, perKey: -1, readTO: 2 * time.Second},
		{name: "environment", env: map[string]string{envMaxIngestPerKey: "12", envIngestReadTO: "750ms"}, perKey: 12, readTO: 750 * time.Millisecond},
		{name: "bad values", args: []string{"--max-ingest-per-key", "-2", "--ingest-read-timeout", "soon"}, wantErr: "max-ingest-per-key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := parseServeConfig(c.args, io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "ingest-read-timeout") {
					t.Fatalf("err = %v, want both bad options named", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxIngestPerKey != c.perKey || cfg.IngestReadTimeout != c.readTO {
				t.Fatalf("per key %d, read timeout %v; want %d, %v", cfg.MaxIngestPerKey, cfg.IngestReadTimeout, c.perKey, c.readTO)
			}
		})
	}
}

// TestServeRunsTheBanditUpdater: serve runs the bandit updater every
// --bandit-interval, so a bandit experiment started through the API gets
// its first period in the weight history (shown in its report) without
// anyone asking, and the server still stops cleanly.
func TestServeRunsTheBanditUpdater(t *testing.T) {
	t.Setenv(envAdminKey, "pl_bandit_test_admin_key_0123456789abcdef")
	db := filepath.Join(t.TempDir(), "serve.db")
	// Report snapshots refresh at once: the history is no event.
	base, stderr, stop := startServe(t, "--db", db, "--bandit-interval", "50ms", "--report-refresh", "10ms", "--report-max-age", "20ms")
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer pl_bandit_test_admin_key_0123456789abcdef")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("POST", "/api/v1/experiments", `{"key": "bandit-sale", "primary_metric": "purchase",
		"allocation": {"mode": "bandit", "update_every": "1h"},
		"variants": [{"key": "control", "weight": 0.5}, {"key": "ten_off", "weight": 0.5,
			"promotion": {"type": "percent_off", "value": 10}}]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := call("POST", "/api/v1/experiments/bandit-sale/start", ""); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := call("GET", "/api/v1/experiments/bandit-sale/report", "")
		if strings.Contains(body, `"periods":[{"period":0,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no period 0 in the bandit report after 20s: %.400s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, stderr)
	}
}

// serve's defaults are the packages' defaults, so that a server built with
// zero settings (the benchmarks, httptest servers) runs as serve does.
func TestServeDefaultsArePackageDefaults(t *testing.T) {
	cfg, err := parseServeConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := (reportsnap.Config{MinInterval: reportsnap.DefaultMinInterval, MaxAge: reportsnap.DefaultMaxAge,
		Size: reportsnap.DefaultSize}); cfg.Reports != want {
		t.Errorf("report snapshots %+v, want %+v", cfg.Reports, want)
	}
	if got := reportReadLimit(cfg.ReportReadRate); got != httpapi.DefaultReportReadLimit {
		t.Errorf("report read pacing %+v, want %+v", got, httpapi.DefaultReportReadLimit)
	}
	if got := authFailureLimit(cfg.AuthFailureRate); got != httpapi.DefaultAuthFailureLimit {
		t.Errorf("auth failure limit %+v, want %+v", got, httpapi.DefaultAuthFailureLimit)
	}
	for scope, def := range httpapi.DefaultScopeRateLimits {
		// serve gives the rate; the burst is then twice the rate, as in the
		// defaults.
		if got := cfg.ScopeRateLimits[scope]; got.Rate != def.Rate || (def.Burst != 0 && def.Burst != int(2*def.Rate)) {
			t.Errorf("scope %s: limit %+v, want %+v", scope, got, def)
		}
	}
	if cfg.RateLimit != 0 || cfg.MaxInflightIngest != 0 || cfg.MaxIngestPerKey != 0 || cfg.MaxStreamsPerKey != httpapi.DefaultMaxStreamsPerKey {
		t.Errorf("rate limit %v, ingest slots %d (per key %d), streams per key %d; want the defaults",
			cfg.RateLimit, cfg.MaxInflightIngest, cfg.MaxIngestPerKey, cfg.MaxStreamsPerKey)
	}
	if cfg.ExposureBatchEvents != experiments.DefaultExposureBatchEvents || cfg.ExposureBatchWait != experiments.DefaultExposureBatchWait ||
		cfg.ExposureLanes != experiments.DefaultExposureLanes {
		t.Errorf("exposure batches of %d events, wait %v, lanes %d; want %d, %v, %d", cfg.ExposureBatchEvents, cfg.ExposureBatchWait,
			cfg.ExposureLanes, experiments.DefaultExposureBatchEvents, experiments.DefaultExposureBatchWait, experiments.DefaultExposureLanes)
	}
}

func TestReportReadRateOption(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		rate    float64
		limit   httpapi.RateLimit
		wantErr bool
	}{
		{name: "default", rate: httpapi.DefaultReportReadLimit.Rate, limit: httpapi.DefaultReportReadLimit},
		{name: "flag", args: []string{"--report-read-rate", "50"}, rate: 50, limit: httpapi.RateLimit{Rate: 50, Burst: 5}},
		{name: "environment, none", env: map[string]string{envReportReadRate: "0"}, rate: 0, limit: httpapi.RateLimit{Rate: -1}},
		{name: "small rate keeps a burst of one", args: []string{"--report-read-rate", "2"}, rate: 2, limit: httpapi.RateLimit{Rate: 2, Burst: 1}},
		{name: "negative", args: []string{"--report-read-rate", "-1"}, wantErr: true},
		{name: "not a number", env: map[string]string{envReportReadRate: "fast"}, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := parseServeConfig(c.args, io.Discard)
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "report-read-rate") {
					t.Fatalf("err = %v, want one naming --report-read-rate", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ReportReadRate != c.rate || reportReadLimit(cfg.ReportReadRate) != c.limit {
				t.Fatalf("rate %v, limit %+v; want %v, %+v", cfg.ReportReadRate, reportReadLimit(cfg.ReportReadRate), c.rate, c.limit)
			}
		})
	}
}
