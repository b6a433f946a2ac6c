package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	out := `goos: linux
BenchmarkHashV2-2              	23905472	        50.10 ns/op	       0 B/op	       0 allocs/op
BenchmarkAssignHTTP/impl=bare-gin-2   	   10000	    102345 ns/op	  9770.5 req/s
PASS
BenchmarkBroken-2  notanumber
`
	res := results{}
	parse(strings.NewReader(out), res)
	if len(res) != 2 {
		t.Fatalf("parsed %d benchmarks, want 2: %v", len(res), res)
	}
	if got := res["BenchmarkHashV2"]; got["ns/op"] != 50.10 || got["B/op"] != 0 || got["allocs/op"] != 0 {
		t.Errorf("BenchmarkHashV2 = %v", got)
	}
	if got := res["BenchmarkAssignHTTP/impl=bare-gin"]["req/s"]; got != 9770.5 {
		t.Errorf("req/s = %v, want 9770.5 (the -GOMAXPROCS suffix must be cut)", got)
	}
}

func TestParseRepeatsTakesMedian(t *testing.T) {
	out := `BenchmarkHashV2-2   100   50 ns/op   0 B/op
BenchmarkHashV2-2   100   90 ns/op   0 B/op
BenchmarkHashV2-2   100   60 ns/op   0 B/op
BenchmarkFNV1a32-2  100   20 ns/op
BenchmarkFNV1a32-2  100   30 ns/op
`
	res := results{}
	parse(strings.NewReader(out), res)
	for _, tc := range []struct {
		name, unit string
		want       float64
	}{
		{"BenchmarkHashV2", "ns/op", 60},
		{"BenchmarkHashV2", "B/op", 0},
		{"BenchmarkFNV1a32", "ns/op", 25},
	} {
		t.Run(tc.name+" "+tc.unit, func(t *testing.T) {
			if got := res[tc.name][tc.unit]; got != tc.want {
				t.Errorf("%s %s = %v, want the median %v", tc.name, tc.unit, got, tc.want)
			}
		})
	}
}

func TestParseRepeatsKeepsWorstCounts(t *testing.T) {
	out := `BenchmarkServing/store=sqlite/path=assign-2  1  5 ns/op  3000 req/s  0 http-429  0 report-diff  0.1 report-s
BenchmarkServing/store=sqlite/path=assign-2  1  5 ns/op  4000 req/s  2 http-429  -3 report-diff  0.3 report-s
BenchmarkServing/store=sqlite/path=assign-2  1  5 ns/op  3500 req/s  0 http-429  1 report-diff  0.2 report-s
`
	res := results{}
	parse(strings.NewReader(out), res)
	got := res["BenchmarkServing/store=sqlite/path=assign"]
	for unit, want := range map[string]float64{"req/s": 3500, "http-429": 2, "report-diff": -3, "report-s": 0.3} {
		if got[unit] != want {
			t.Errorf("%s = %v, want %v", unit, got[unit], want)
		}
	}
}

func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		check func(float64) (bool, string)
		v     float64
		ok    bool
	}{
		{atLeast(0.5), 0.7, true},
		{atLeast(0.5), 0.31, false},
		{atMost(3), 2.6, true},
		{atMost(3), 3.2, false},
	} {
		if ok, why := tc.check(tc.v); ok != tc.ok || why == "" {
			t.Errorf("check(%v) = %v, %q; want %v with a reason", tc.v, ok, why, tc.ok)
		}
	}
	if got := thousands(1000000); got != "1,000,000" {
		t.Errorf("thousands(1000000) = %q", got)
	}
}

// steadymemJSON is what steadymem -out writes (abridged to three samples).
const steadymemJSON = `{
  "date": "2026-11-23T12:00:00Z",
  "command": "cd bench && go run ./cmd/steadymem -duration 5m0s -every 30s -baseline 1m0s -concurrency 4",
  "store": "SQLite", "duration_s": 300, "every_s": 30, "concurrency": 4, "customers": 100000,
  "mix": "assign=70,config=10,events=15,report=5",
  "samples": [
    {"elapsed_s": 0, "phase": "idle", "inuse_space_bytes": 1342177, "inuse_objects": 10472, "heap_alloc_bytes": 2894069, "heap_inuse_bytes": 4267704, "goroutines": 9},
    {"elapsed_s": 60, "phase": "load", "inuse_space_bytes": 1887436, "inuse_objects": 15246, "heap_alloc_bytes": 5054136, "heap_inuse_bytes": 6574592, "goroutines": 14},
    {"elapsed_s": 300, "phase": "load", "inuse_space_bytes": 1908408, "inuse_objects": 14884, "heap_alloc_bytes": 4404019, "heap_inuse_bytes": 6270484, "goroutines": 18},
    {"elapsed_s": 305.2, "phase": "after", "inuse_space_bytes": 1708408, "inuse_objects": 12884, "heap_alloc_bytes": 1704019, "heap_inuse_bytes": 3270484, "goroutines": 9}
  ],
  "loadgen": "promolift loadgen: http://127.0.0.1:41875, 4 workers, 100000 customers, 305.0s\ntotal         94131                313.8",
  "requests": 94131, "errors": 0, "req_per_s": 313.8, "exposed_units": 48211, "exposures": 48930,
  "baseline": {"elapsed_s": 60, "phase": "load", "inuse_space_bytes": 1887436, "inuse_objects": 15246, "heap_alloc_bytes": 5054136, "heap_inuse_bytes": 6574592, "goroutines": 14},
  "last": {"elapsed_s": 300, "phase": "load", "inuse_space_bytes": 1908408, "inuse_objects": 14884, "heap_alloc_bytes": 4404019, "heap_inuse_bytes": 6270484, "goroutines": 18},
  "growth": 0.0111, "max_growth": 0.1, "flat": true
}`

func TestMemorySection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steadymem.json")
	if err := os.WriteFile(path, []byte(steadymemJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := readMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	res := results{}
	addMemory(res, m)
	doc := render(res, time.Minute, m)
	for _, want := range []string{
		"| 0:00 (idle, before the load) | 1.28 MiB | 10,472 | 2.76 MiB | 4.07 MiB | 9 |",
		"| **1:00** | 1.80 MiB | 15,246 |",
		"| **5:00** | 1.82 MiB | 14,884 |",
		"| 5:05 (after the load) | 1.63 MiB | 12,884 |",
		"**Flat**: heap in use 1.80 MiB at 1:00, 1.82 MiB at 5:00: +1.1% (target: at most +10%; exact `HeapAlloc` 4.82 → 4.20 MiB, -12.9%),\nover 94,131 requests (314 req/s, 0 errors); the store held 48,930 exposures of 48,211 units afterwards.",
		"| 1.82 MiB | 1.80 MiB | 5 min / 1 min = 1.01 | ≤ 1.10 (growth ≤ 10%) | met (1.01 ≤ 1.1) |",
		"total         94131",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the document lacks %q", want)
		}
	}
	if doc := render(results{}, time.Minute, nil); !strings.Contains(doc, "not measured (steadymem not run)") {
		t.Error("without steadymem the memory figure is not marked as not measured")
	}
	if err := os.WriteFile(path, []byte(`{"samples": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readMemory(path); err == nil {
		t.Error("readMemory accepted a file without samples")
	}
}
