package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestTracingConfig(t *testing.T) {
	cfg, err := parseServeConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OTelEndpoint != "" || cfg.OTelSampleRatio != 1 {
		t.Fatalf("defaults: endpoint %q ratio %v, want tracing off and 1", cfg.OTelEndpoint, cfg.OTelSampleRatio)
	}
	for _, c := range []struct{ in, want string }{
		{"http://collector:4318", "http://collector:4318/v1/traces"},
		{"https://collector.example.com/", "https://collector.example.com/v1/traces"},
		{"http://collector:4318/custom/traces", "http://collector:4318/custom/traces"},
	} {
		cfg, err := parseServeConfig([]string{"--otel-endpoint", c.in, "--otel-sample-ratio", "0.25"}, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if cfg.OTelEndpoint != c.want || cfg.OTelSampleRatio != 0.25 {
			t.Errorf("%s: endpoint %q ratio %v, want %q 0.25", c.in, cfg.OTelEndpoint, cfg.OTelSampleRatio, c.want)
		}
	}

	cases := []serveUsageCase{
		{"ratio above 1", []string{"--otel-sample-ratio", "1.5"}, nil, "--otel-sample-ratio"},
		{"negative ratio", []string{"--otel-sample-ratio", "-0.1"}, nil, "--otel-sample-ratio"},
		{"ratio not a number", []string{"--otel-sample-ratio", "half"}, nil, "--otel-sample-ratio"},
		{"ratio NaN from env", nil, map[string]string{envOTelSampleRatio: "NaN"}, envOTelSampleRatio},
		{"endpoint without scheme", []string{"--otel-endpoint", "collector:4318"}, nil, "--otel-endpoint"},
		{"endpoint from env", nil, map[string]string{envOTelEndpoint: "ftp://collector"}, envOTelEndpoint},
	}
	runServeUsageCases(t, cases)
}

// collector stands in for an OTLP/HTTP collector and records what it gets.
type collector struct {
	mu    sync.Mutex
	posts []string // "METHOD path content-type"
	body  bytes.Buffer
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.posts = append(c.posts, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
	c.body.Write(body)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
}

func TestServeExportsTraces(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	const token = "pl_admin0000_tracing-secret-key-000000"
	t.Setenv(envAdminKey, token)

	base, stderr, stop := startServe(t, "--db", filepath.Join(t.TempDir(), "trace.db"), "--otel-endpoint", srv.URL)
	req, _ := http.NewRequest("GET", base+"/api/v1/experiments/some-key", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET experiment: %d", resp.StatusCode)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	found := false
	for _, p := range col.posts {
		if p == "POST /v1/traces application/x-protobuf" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the collector got %q, want a POST /v1/traces after shutdown; stderr:\n%s", col.posts, stderr)
	}
	body := col.body.String()
	if !strings.Contains(body, "GET /api/v1/experiments/:key") {
		t.Error("the exported spans do not hold the span name GET /api/v1/experiments/:key")
	}
	if strings.Contains(body, token) || strings.Contains(body, "some-key") {
		t.Error("the exported spans hold the API key or the raw path")
	}
}

func TestServeTracingOffByDefault(t *testing.T) {
	tp, shutdown, err := setupTracing(context.Background(), "", 1, nil)
	if err != nil || tp != nil {
		t.Fatalf("tracing off: provider %v, err %v; want nil, nil", tp, err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
