package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRunShort runs the whole measurement for a few seconds: the real
// server with its pprof listener, the load generator, the heap samples and
// the verdict. It lives in module bench, so only `go test` inside bench
// runs it.
func TestRunShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds promolift and loads a server for 15 s")
	}
	var out strings.Builder
	res, err := run(context.Background(), config{Duration: 10 * time.Second, Every: 2 * time.Second, Baseline: 4 * time.Second,
		Concurrency: 2, Customers: 1000, Mix: "assign=70,config=10,events=15,report=5", Profiles: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	// The idle sample, 5 under load (2, 4, 6, 8, 10 s) and the one after.
	var phases []string
	for _, s := range res.Samples {
		phases = append(phases, s.Phase)
	}
	if got := strings.Join(phases, " "); got != "idle load load load load load after" {
		t.Errorf("sample phases %q, want idle, 5 under load, after: %+v", got, res.Samples)
	}
	for _, s := range res.Samples {
		if s.InuseBytes <= 0 || s.InuseObjects <= 0 || s.HeapAlloc <= 0 || s.HeapInuse < s.HeapAlloc || s.Goroutines <= 0 {
			t.Errorf("empty sample %+v", s)
		}
	}
	if res.Baseline.Elapsed != 4 || res.Last.Elapsed != 10 || res.Last.Phase != "load" {
		t.Errorf("baseline at %vs, last at %vs (%s); want 4 s and 10 s under load", res.Baseline.Elapsed, res.Last.Elapsed, res.Last.Phase)
	}
	if res.Requests <= 0 || res.ReqPerSec <= 0 || !strings.Contains(res.Loadgen, "assign") {
		t.Errorf("loadgen summary not read: %d requests, %.1f req/s\n%s", res.Requests, res.ReqPerSec, res.Loadgen)
	}
	if res.ExposedUnits <= 0 || res.Exposures < res.ExposedUnits {
		t.Errorf("the store holds %d exposures of %d units: the assign requests logged none", res.Exposures, res.ExposedUnits)
	}
	want := float64(res.Last.InuseBytes)/float64(res.Baseline.InuseBytes) - 1
	if res.Growth != want || res.Flat != (want <= MaxGrowth) {
		t.Errorf("growth %v flat %v, want %v", res.Growth, res.Flat, want)
	}
	if b, err := json.Marshal(res); err != nil || !strings.Contains(string(b), `"inuse_space_bytes"`) {
		t.Errorf("JSON: %v %s", err, b)
	}
}

func TestParseLoadgen(t *testing.T) {
	out := `promolift loadgen: http://127.0.0.1:40000, 4 workers, 100000 customers, 300.0s
op        requests  errors      req/s        p50        p95        p99
assign       65892       0      219.6     3.42ms    21.5ms    48.1ms
config        9411       2       31.4      2.9ms    19.8ms    45.2ms
         errors: 503×2
events       14120       3       47.1     12.1ms    60.3ms   120.7ms
report        4708       0       15.7      9.8ms    50.1ms    99.9ms
total        94131                313.8
`
	n, errs, rate := parseLoadgen(out)
	if n != 94131 || errs != 5 || rate != 313.8 {
		t.Fatalf("parseLoadgen = %d, %d, %v; want 94131, 5, 313.8", n, errs, rate)
	}
}

func TestGoroutines(t *testing.T) {
	n, err := goroutines([]byte("goroutine profile: total 14\n3 @ 0x1 0x2\n"))
	if err != nil || n != 14 {
		t.Fatalf("goroutines = %d, %v", n, err)
	}
	if _, err := goroutines([]byte("nothing")); err == nil {
		t.Fatal("no error for a page without a total")
	}
	alloc, in, err := memStats([]byte("heap profile: 1: 2 [3: 4] @ heap/1024\n\n# runtime.MemStats\n# Alloc = 5\n# HeapAlloc = 4019584\n# HeapSys = 7766016\n# HeapIdle = 2400256\n# HeapInuse = 5365760\n"))
	if err != nil || alloc != 4019584 || in != 5365760 {
		t.Fatalf("memStats = %d, %d, %v", alloc, in, err)
	}
	if _, _, err := inuse([]byte("not a profile")); err == nil {
		t.Fatal("no error for a page that is not a profile")
	}
}
