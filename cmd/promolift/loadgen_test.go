package main

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/sqlite"
)

func TestLoadgenRefusesNonLoopback(t *testing.T) {
	for _, s := range []string{"http://example.com", "http://10.0.0.1:8080", "https://8.8.8.8", "ftp://127.0.0.1", "127.0.0.1:8080"} {
		if _, err := loopbackURL(s); err == nil {
			t.Errorf("loopbackURL(%q) accepted", s)
		}
	}
	for _, s := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080", "https://127.0.0.2"} {
		if _, err := loopbackURL(s); err != nil {
			t.Errorf("loopbackURL(%q): %v", s, err)
		}
	}
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"loadgen", "--server", "http://example.com", "--key", "k"}, nil, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2; %s", code, errb.String())
	}
	for _, args := range [][]string{
		{"--key", "k", "--duration", "2h"},
		{"--key", "k", "--concurrency", "100000"},
		{"--key", "k", "--requests", "-1"},
		{"--key", "k", "--mix", "assign=1,nuke=5"},
		{"--key", "k", "--mix", "assign=10,report=1"}, // report without --experiment
		{"--duration", "1s"},                          // no key
	} {
		if _, err := parseLoadgen(args, &errb); err == nil {
			t.Errorf("parseLoadgen(%q) accepted", args)
		}
	}
}

// TestLoadgenRuns runs loadgen for about 2 s against an in-process server
// on SQLite and checks that every operation of the mix ran without errors.
func TestLoadgenRuns(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lg.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := newService(store, nil)
	token, _, err := svc.EnsureAdminKey(ctx, "")
	if err != nil || token == "" {
		t.Fatalf("admin key: %q %v", token, err)
	}
	e := &experiments.Experiment{Key: "spring-sale", PrimaryMetric: "purchase",
		Variants: []experiments.Variant{{Key: "control", Weight: 0.5}, {Key: "ten_off", Weight: 0.5}}}
	if err := svc.CreateExperiment(ctx, experiments.Principal{}, e); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, experiments.Principal{}, "spring-sale", experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	_, sdkKey, err := svc.CreateKey(ctx, experiments.Principal{}, "loadgen", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	// The server's default limits: the shop's traffic goes with an sdk key,
	// which they never throttle; the reports with the admin key.
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Config{}, nil))
	defer srv.Close()

	var out, errb strings.Builder
	start := time.Now()
	code := run(ctx, []string{"loadgen", "--server", srv.URL, "--key", token, "--sdk-key", sdkKey, "--duration", "2s",
		"--customers", "500", "--concurrency", "4", "--experiment", "spring-sale",
		"--mix", "assign=70,config=10,events=15,report=5"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("loadgen ran %s for --duration 2s", d)
	}
	t.Logf("\n%s", out.String())
	row := regexp.MustCompile(`(?m)^(assign|config|events|report)\s+(\d+)\s+(\d+)\s+[\d.]+\s+\S+\s+\S+\s+\S+$`)
	seen := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(out.String(), -1) {
		n, _ := strconv.Atoi(m[2])
		errs, _ := strconv.Atoi(m[3])
		if n == 0 || errs != 0 {
			t.Errorf("%s: %d requests, %d errors", m[1], n, errs)
		}
		seen[m[1]] = true
	}
	if len(seen) != 4 {
		t.Fatalf("operations in the output: %v\n%s", seen, out.String())
	}
	if !strings.Contains(out.String(), "p99") {
		t.Fatalf("no percentiles:\n%s", out.String())
	}
}
