package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// memResult is the part of steadymem's -out JSON (bench/cmd/steadymem,
// type Result) that the document shows.
type memResult struct {
	Date        string      `json:"date"`
	Command     string      `json:"command"`
	Store       string      `json:"store"`
	Duration    float64     `json:"duration_s"`
	Every       float64     `json:"every_s"`
	Concurrency int         `json:"concurrency"`
	Customers   int         `json:"customers"`
	Mix         string      `json:"mix"`
	Samples     []memSample `json:"samples"`
	Loadgen     string      `json:"loadgen"`
	Requests    int64       `json:"requests"`
	Errors      int64       `json:"errors"`
	ReqPerSec   float64     `json:"req_per_s"`
	Units       int64       `json:"exposed_units"`
	Exposures   int64       `json:"exposures"`
	Baseline    memSample   `json:"baseline"`
	Last        memSample   `json:"last"`
	Growth      float64     `json:"growth"`
	MaxGrowth   float64     `json:"max_growth"`
	Flat        bool        `json:"flat"`
}

type memSample struct {
	Elapsed      float64 `json:"elapsed_s"`
	Phase        string  `json:"phase"` // idle, load or after
	InuseBytes   int64   `json:"inuse_space_bytes"`
	InuseObjects int64   `json:"inuse_objects"`
	HeapAlloc    int64   `json:"heap_alloc_bytes"`
	HeapInuse    int64   `json:"heap_inuse_bytes"`
	Goroutines   int     `json:"goroutines"`
}

// The pseudo benchmarks the memory figure reads from results.
const (
	memBaseline = "steadymem/baseline"
	memLast     = "steadymem/last"
)

func readMemory(path string) (*memResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m memResult
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Samples) < 2 || m.Baseline.InuseBytes <= 0 || m.Last.InuseBytes <= 0 {
		return nil, fmt.Errorf("%s: no heap samples", path)
	}
	return &m, nil
}

// addMemory puts the baseline and the last sample into res as MiB, for
// the table of figures.
func addMemory(res results, m *memResult) {
	if m == nil {
		return
	}
	res[memBaseline] = map[string]float64{"MiB": mib(m.Baseline.InuseBytes)}
	res[memLast] = map[string]float64{"MiB": mib(m.Last.InuseBytes)}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// clock formats seconds as m:ss.
func clock(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func group(n int64) string { return thousands(int(n)) }

// span formats seconds as "5 min" or "30 s".
func span(s float64) string {
	if s >= 60 && math.Mod(s, 60) == 0 {
		return fmt.Sprintf("%g min", s/60)
	}
	return fmt.Sprintf("%g s", s)
}

// renderMemory is the section "Memory under steady load".
func renderMemory(m *memResult) string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	if m == nil {
		p("Not measured in this run. Measure it with `cd bench && go run ./cmd/steadymem -duration 5m` (make bench does).\n")
		return w.String()
	}
	p("Measured on %s with `%s` (part of `make bench`, after the timed benchmarks).\n", m.Date, m.Command)
	p("It builds `cmd/promolift` and runs the real `promolift serve` process on a fresh %s file (the `serve` default),\n", m.Store)
	p("with loopback ports, the default rate limits and the opt-in pprof listener (`--pprof-addr 127.0.0.1:0`). `promolift loadgen`\n")
	p("loads it for %s from %d workers (mix %s; events in batches of 20 conversions; %s customers; the experiment\n",
		span(m.Duration), m.Concurrency, strings.ReplaceAll(m.Mix, ",", ", "), thousands(m.Customers))
	p("covers every customer, so each assign logs the customer's exposure of the day, as apps' calls do).\n")
	p("Before the load, every %s under load up to %s (loadgen runs 5 s longer, so that the last of these is under load like\n", span(m.Every), span(m.Duration))
	p("the others), and once after the load, steadymem fetches `/debug/pprof/heap?gc=1` (a heap profile taken after a forced\n")
	p("GC) and sums the profile's `inuse_space` and `inuse_objects`: the live heap at that GC, estimated from the profile's\n")
	p("samples (the server runs with `GODEBUG=memprofilerate=4096`, one sample per 4 KiB allocated, instead of 512 KiB).\n")
	p("The verdict compares these. Under load they include the requests in flight. `HeapAlloc` and `HeapInuse` are the exact\n")
	p("`runtime.MemStats` of `/debug/pprof/heap?gc=1&debug=1`, read just after, as a cross-check. Goroutines: the total of\n")
	p("`/debug/pprof/goroutine?debug=1`. None of this counts the SQLite page cache, which is outside the Go heap.\n\n")
	p("| elapsed | heap in use (`inuse_space`) | heap objects (`inuse_objects`) | `HeapAlloc` | `HeapInuse` | goroutines |\n")
	p("| ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range m.Samples {
		label := clock(s.Elapsed)
		switch {
		case s.Phase == "idle":
			label += " (idle, before the load)"
		case s.Phase == "after":
			label += " (after the load)"
		case s == m.Baseline || s == m.Last:
			label = "**" + label + "**"
		}
		p("| %s | %.2f MiB | %s | %.2f MiB | %.2f MiB | %d |\n", label, mib(s.InuseBytes), group(s.InuseObjects),
			mib(s.HeapAlloc), mib(s.HeapInuse), s.Goroutines)
	}
	verdict := "**Flat**"
	if !m.Flat {
		verdict = "**Not flat** (target missed)"
	}
	p("\n%s: heap in use %.2f MiB at %s, %.2f MiB at %s: %+.1f%% (target: at most %+.0f%%; exact `HeapAlloc` %.2f → %.2f MiB, %+.1f%%),\n",
		verdict, mib(m.Baseline.InuseBytes), clock(m.Baseline.Elapsed), mib(m.Last.InuseBytes), clock(m.Last.Elapsed),
		m.Growth*100, m.MaxGrowth*100, mib(m.Baseline.HeapAlloc), mib(m.Last.HeapAlloc),
		(float64(m.Last.HeapAlloc)/float64(max(m.Baseline.HeapAlloc, 1))-1)*100)
	p("over %s requests (%.0f req/s, %s errors); the store held %s exposures of %s units afterwards.\n",
		group(m.Requests), m.ReqPerSec, group(m.Errors), group(m.Exposures), group(m.Units))
	if m.Loadgen != "" {
		p("\n`promolift loadgen`'s own summary (latencies under this closed-loop load, not at half saturation):\n\n```\n%s\n```\n", m.Loadgen)
	}
	p("\nNot measured on PostgreSQL. There the process should hold no more state (the same spec cache, and a connection pool\n" +
		"instead of SQLite's page cache, which is outside the Go heap anyway).\n")
	return w.String()
}
