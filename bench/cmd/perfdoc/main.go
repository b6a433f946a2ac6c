package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Three go test runs: CPU-bound micro benchmarks sized by time, the
// serving benchmark, and the other I/O benchmarks (HTTP, databases) that
// share fixtures built once per process. Their benchtimes keep make bench
// under 20 minutes with the 5-minute memory run: BenchmarkAssignLatency
// takes its own fixed time, and the slowest statistics benchmarks (seconds
// per operation) run once anyway. The micro and serving runs are repeated
// (each repeat runs every benchmark of the run once, so ours and its
// anchors alternate) and each figure is the median of the repeats: one 0.5 s
// run of a ratio of two nanosecond figures moved by a third from run to run
// on this shared machine, and one serving run's throughput by a fifth.
// Counts that must be zero in every run (429s, 5xx, report differences)
// and the report's catch-up time keep the worst repeat instead (parse).
var runs = []struct {
	name   string
	repeat int
	args   []string
}{
	{"micro", 5, []string{"test", "-vet=off", "-run", "^$", "-bench",
		"^(BenchmarkFNV1a32|BenchmarkHashV2|BenchmarkAssignRun|BenchmarkGrowthBookRunExperiment|BenchmarkOpenFeatureBool|BenchmarkGrowthAssign)$",
		"-benchmem", "-benchtime", "0.5s", "-count", "1", "."}},
	{"serving", 5, []string{"test", "-vet=off", "-run", "^$", "-bench", "^BenchmarkServing$",
		"-benchtime", "1s", "-count", "1", "-timeout", "10m", "."}},
	{"io", 1, []string{"test", "-vet=off", "-run", "^$", "-bench",
		"^(BenchmarkAssignHTTP|BenchmarkAssignLatency|BenchmarkIngestPostgres|BenchmarkIngestSQLite|BenchmarkGrowthIngest|BenchmarkSuffStats|BenchmarkReport|BenchmarkReportSeries|BenchmarkReportLoad)$",
		"-benchtime", "1s", "-count", "1", "-timeout", "20m", "."}},
}

// memoryArgs runs steadymem, after the benchmarks so that it does not
// disturb them; perfdoc adds -duration and -out.
var memoryArgs = []string{"run", "./cmd/steadymem", "-every", "30s", "-baseline", "1m", "-concurrency", "4"}

// stage is one timed step of the run, for the log and the document.
type stage struct {
	name string
	took time.Duration
}

var stages []stage

// results maps a benchmark name (without the -GOMAXPROCS suffix) to its
// metrics by unit.
type results map[string]map[string]float64

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)

// worstUnits are the metrics that a benchmark appearing more than once
// keeps the worst of (the largest in absolute value) instead of the
// median: a 429 or a report difference in one repeat must show.
var worstUnits = map[string]bool{"http-429": true, "http-5xx": true, "http-other": true, "non-200": true,
	"report-diff": true, "report-s": true}

// parse reads go test -bench output into results. A benchmark that appears
// more than once (repeated runs) gets the median of each metric, or the
// worst of those of worstUnits.
func parse(r io.Reader, into results) {
	samples := map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		ms := samples[m[1]]
		if ms == nil {
			ms = map[string][]float64{}
			samples[m[1]] = ms
		}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				ms[f[i+1]] = append(ms[f[i+1]], v)
			}
		}
	}
	for name, ms := range samples {
		into[name] = map[string]float64{}
		for unit, vs := range ms {
			if worstUnits[unit] {
				into[name][unit] = worst(vs)
			} else {
				into[name][unit] = median(vs)
			}
		}
	}
}

// worst is the value of vs largest in absolute value.
func worst(vs []float64) float64 {
	w := vs[0]
	for _, v := range vs[1:] {
		if math.Abs(v) > math.Abs(w) {
			w = v
		}
	}
	return w
}

// median is the middle value of vs, or the mean of the two middle values.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func main() {
	out := flag.String("out", "../docs/performance.md", "the markdown file to write")
	in := flag.String("in", "", "parse this saved benchmark output instead of running go test")
	took := flag.Duration("took", 0, "with -in: the wall time of the saved run, for the document")
	load := flag.String("load", "not recorded / not recorded", "with -in: the load averages of the saved run, \"start / end\"")
	memDuration := flag.Duration("mem-duration", 5*time.Minute, "how long steadymem loads the server (0: skip the memory run)")
	memIn := flag.String("mem-in", "", "with -in: read this saved steadymem -out JSON instead of running steadymem")
	flag.Parse()
	res := results{}
	loadStart = loadAvg()
	var raw bytes.Buffer
	start := time.Now()
	if *in != "" {
		b, err := os.ReadFile(*in)
		if err != nil {
			fatal(err)
		}
		raw.Write(b)
	} else {
		for _, r := range runs {
			t0 := time.Now()
			for i := 1; i <= r.repeat; i++ {
				fmt.Fprintf(os.Stderr, "perfdoc: (%d/%d) go %s\n", i, r.repeat, strings.Join(r.args, " "))
				cmd := exec.Command("go", r.args...)
				cmd.Stdout = io.MultiWriter(&raw, os.Stderr)
				cmd.Stderr = os.Stderr
				if err := cmd.Run(); err != nil {
					fatal(fmt.Errorf("go test (%s): %w", r.name, err))
				}
			}
			timed(r.name, t0)
		}
	}
	var mem *memResult
	switch {
	case *memIn != "":
		m, err := readMemory(*memIn)
		if err != nil {
			fatal(err)
		}
		mem = m
	case *in == "" && *memDuration > 0:
		m, err := runMemory(*memDuration)
		if err != nil {
			fatal(err)
		}
		mem = m
	}
	loadEnd = loadAvg()
	if *in != "" {
		loadStart, loadEnd, _ = strings.Cut(*load, " / ")
	}
	parse(bytes.NewReader(raw.Bytes()), res)
	addServing(res)
	addMemory(res, mem)
	wall := time.Since(start)
	if *in != "" {
		wall = *took
	}
	doc := render(res, wall, mem)
	if err := os.WriteFile(*out, []byte(doc), 0o644); err != nil {
		fatal(err)
	}
	fmt.Fprintf(os.Stderr, "perfdoc: wrote %s (%s: %s)\n", *out, time.Since(start).Round(time.Second), stageSummary())
}

// timed records and logs a stage that started at t0.
func timed(name string, t0 time.Time) {
	s := stage{name, time.Since(t0)}
	stages = append(stages, s)
	fmt.Fprintf(os.Stderr, "perfdoc: stage %s took %s\n", s.name, s.took.Round(time.Second))
}

// stageSummary is "micro 25s, io 2m40s, memory 5m20s".
func stageSummary() string {
	if len(stages) == 0 {
		return "stages not timed"
	}
	var parts []string
	for _, s := range stages {
		parts = append(parts, s.name+" "+s.took.Round(time.Second).String())
	}
	return strings.Join(parts, ", ")
}

// runMemory runs steadymem for d and reads its samples.
func runMemory(d time.Duration) (*memResult, error) {
	f, err := os.CreateTemp("", "perfdoc-steadymem-*.json")
	if err != nil {
		return nil, err
	}
	f.Close()
	defer os.Remove(f.Name())
	args := append(append([]string{}, memoryArgs...), "-duration", d.String(), "-out", f.Name())
	fmt.Fprintf(os.Stderr, "perfdoc: go %s\n", strings.Join(args, " "))
	t0 := time.Now()
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("steadymem: %w", err)
	}
	timed("memory", t0)
	return readMemory(f.Name())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "perfdoc:", err)
	os.Exit(1)
}

// loadStart is the 1-minute load average when the run started.
var loadStart, loadEnd string

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func goVersion() string {
	b, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH + " (no /proc/cpuinfo)"
	}
	model, n := "", 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			n++
			if i := strings.Index(l, ":"); i >= 0 && model == "" {
				model = strings.TrimSpace(l[i+1:])
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs", model, n)
}

// figure is one measured figure against its anchor.
type figure struct {
	what         string
	ours, anchor string // benchmark names
	metric       string // unit of both
	ratioName    string
	ratio        func(ours, anchor float64) float64
	target       string
	met          func(r float64) (bool, string)
}

func atLeast(t float64) func(float64) (bool, string) {
	return func(r float64) (bool, string) {
		if r >= t {
			return true, fmt.Sprintf("met (%.2f ≥ %g, %.0f%% margin)", r, t, (r/t-1)*100)
		}
		return false, fmt.Sprintf("**missed** by %.0f%% (%.2f < %g)", (1-r/t)*100, r, t)
	}
}

func atMost(t float64) func(float64) (bool, string) {
	return func(r float64) (bool, string) {
		if r <= t {
			return true, fmt.Sprintf("met (%.2f ≤ %g)", r, t)
		}
		return false, fmt.Sprintf("**missed** by %.0f%% (%.2f > %g)", (r/t-1)*100, r, t)
	}
}

func info(float64) (bool, string) { return true, "for reference (no target)" }

func div(a, b float64) float64   { return a / b }
func first(a, _ float64) float64 { return a }

// Names of the serving benchmarks (bench/serving_bench_test.go).
const (
	servingFloor  = "BenchmarkServing/path=gin-bare"
	servingSQLite = "BenchmarkServing/store=sqlite/path="
	servingPG     = "BenchmarkServing/store=postgres/path="
	servingTotals = "BenchmarkServing/totals" // added by addServing
)

// addServing adds servingTotals: the 429 and 5xx answers of every serving
// run ("non-200"), the sum of the report differences ("report-diff", as
// absolute values) and the slowest report ("report-s").
func addServing(res results) {
	var non200, diff, slowest float64
	found := false
	for name, m := range res {
		if !strings.HasPrefix(name, "BenchmarkServing/store=") {
			continue
		}
		found = true
		non200 += m["http-429"] + m["http-5xx"]
		if d := m["report-diff"]; d < 0 {
			diff -= d
		} else {
			diff += d
		}
		slowest = max(slowest, m["report-s"])
	}
	if found {
		res[servingTotals] = map[string]float64{"non-200": non200, "report-diff": diff, "report-s": slowest}
	}
}
func inv(a, b float64) float64 { return b / a }

func figures(res results) []figure {
	top := 0
	for name := range res {
		if strings.HasPrefix(name, "BenchmarkSuffStats/units=") {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(name, "/", 3)[1], "units="), ""))
			top = max(top, n)
		}
	}
	ss := fmt.Sprintf("BenchmarkSuffStats/units=%d/impl=rollups", top)
	out := []figure{
		{what: "assignment `Spec.Run` vs raw FNV-1a 32", ours: "BenchmarkAssignRun", anchor: "BenchmarkFNV1a32", metric: "ns/op",
			ratioName: "Run / FNV-1a", ratio: div, target: "for reference", met: info},
		{what: "assignment `Spec.Run` vs the v2 hash alone", ours: "BenchmarkAssignRun", anchor: "BenchmarkHashV2", metric: "ns/op",
			ratioName: "Run / Hash v2", ratio: div, target: "≤ 3", met: atMost(3)},
		{what: "assignment vs the GrowthBook Go SDK", ours: "BenchmarkAssignRun", anchor: "BenchmarkGrowthBookRunExperiment", metric: "ns/op",
			ratioName: "GrowthBook / Run (speed-up)", ratio: inv, target: "≥ 5", met: atLeast(5)},
		{what: "OpenFeature boolean flag: our provider vs the in-memory provider", ours: "BenchmarkOpenFeatureBool/impl=promolift",
			anchor: "BenchmarkOpenFeatureBool/impl=memprovider", metric: "ns/op", ratioName: "memprovider / ours (speed-up)", ratio: inv,
			target: "none set (parity is 1)", met: info},
		// The serving path (issue 17): a real promolift serve with its
		// defaults, 64 clients, a new customer each request.
		{what: "SQLite: `POST /api/v1/assign` with the exposure logged vs `log_exposure: false` (64 clients, a new customer each request, `promolift serve` defaults)",
			ours: servingSQLite + "assign", anchor: servingSQLite + "assign-no-exposure", metric: "req/s", ratioName: "exposure / none", ratio: div,
			target: "≥ 0.5", met: atLeast(0.5)},
		{what: "PostgreSQL (fsync and synchronous_commit on): the same",
			ours: servingPG + "assign", anchor: servingPG + "assign-no-exposure", metric: "req/s", ratioName: "exposure / none", ratio: div,
			target: "≥ 0.5", met: atLeast(0.5)},
		{what: "SQLite: `POST /api/v1/assign` with the exposure logged vs a bare gin handler decoding the same bodies (the floor)",
			ours: servingSQLite + "assign", anchor: servingFloor, metric: "req/s", ratioName: "ours / bare gin", ratio: div,
			target: "≥ 0.25", met: atLeast(0.25)},
		{what: "PostgreSQL: the same", ours: servingPG + "assign", anchor: servingFloor, metric: "req/s", ratioName: "ours / bare gin", ratio: div,
			target: "≥ 0.25", met: atLeast(0.25)},
		{what: "SQLite: OFREP single evaluation (logs the exposure) vs the bare gin floor",
			ours: servingSQLite + "ofrep", anchor: servingFloor, metric: "req/s", ratioName: "OFREP / bare gin", ratio: div,
			target: "≥ 0.5", met: atLeast(0.5)},
		{what: "PostgreSQL: the same", ours: servingPG + "ofrep", anchor: servingFloor, metric: "req/s", ratioName: "OFREP / bare gin", ratio: div,
			target: "≥ 0.5", met: atLeast(0.5)},
		{what: "context: SQLite OFREP single evaluation vs assign with `log_exposure: false`",
			ours: servingSQLite + "ofrep", anchor: servingSQLite + "assign-no-exposure", metric: "req/s", ratioName: "OFREP / no exposure", ratio: div,
			target: "for reference", met: info},
		{what: "context: PostgreSQL, the same",
			ours: servingPG + "ofrep", anchor: servingPG + "assign-no-exposure", metric: "req/s", ratioName: "OFREP / no exposure", ratio: div,
			target: "for reference", met: info},
		{what: "429 and 5xx answers in the serving runs above (both stores, default settings)", ours: servingTotals, anchor: servingTotals,
			metric: "non-200", ratioName: "answers", ratio: first, target: "0", met: atMost(0)},
		{what: "answers 200 that logged an exposure but are not a unit of the report (or units the report has beyond them)",
			ours: servingTotals, anchor: servingTotals, metric: "report-diff", ratioName: "units", ratio: first, target: "0 (exactly)", met: atMost(0)},
		{what: "time until the report counts every acknowledged unit (the slowest run of any path)",
			ours: servingTotals, anchor: servingTotals, metric: "report-s", ratioName: "seconds", ratio: first, target: "≤ 60 s", met: atMost(60)},
		{what: "`POST /api/v1/assign` throughput vs a bare gin handler (8 clients, loopback)", ours: "BenchmarkAssignHTTP/impl=promolift",
			anchor: "BenchmarkAssignHTTP/impl=gin-bare", metric: "req/s", ratioName: "ours / bare gin", ratio: div, target: "≥ 0.5", met: atLeast(0.5)},
		{what: "`POST /api/v1/assign` tail latency at half saturation (SQLite, a new customer each request, exposure logged)", ours: "BenchmarkAssignLatency/impl=promolift",
			anchor: "BenchmarkAssignLatency/impl=promolift", metric: "p99/p50", ratioName: "p99 / p50", ratio: first,
			target: "< 10", met: atMost(10)},
		{what: "`promolift serve` heap in use under steady load (`promolift loadgen`, heap profile after GC): at 5 minutes vs at 1 minute",
			ours: memLast, anchor: memBaseline, metric: "MiB", ratioName: "5 min / 1 min", ratio: div, target: "≤ 1.10 (growth ≤ 10%)",
			met: atMost(1.10)},
		{what: "HTTP batch ingest into PostgreSQL vs `COPY` + `INSERT … ON CONFLICT DO NOTHING` into a table with the key and secondary indexes of `events`, no rollups (batches of 1000)",
			ours: "BenchmarkIngestPostgres/impl=promolift-http", anchor: "BenchmarkIngestPostgres/impl=copy-upsert-indexed", metric: "events/s",
			ratioName: "ours / indexed upsert", ratio: div, target: "≥ 0.5", met: atLeast(0.5)},
		{what: "HTTP batch ingest into SQLite vs a prepared `INSERT … ON CONFLICT DO NOTHING` into a table with the key and secondary indexes of `events` (one tx), no rollups",
			ours: "BenchmarkIngestSQLite/impl=promolift-http", anchor: "BenchmarkIngestSQLite/impl=insert-upsert-indexed", metric: "events/s",
			ratioName: "ours / indexed upsert", ratio: div, target: "≥ 0.5", met: atLeast(0.5)},
		{what: "reference (issue 5's anchor): HTTP batch ingest into PostgreSQL vs raw `COPY` into a plain table", ours: "BenchmarkIngestPostgres/impl=promolift-http",
			anchor: "BenchmarkIngestPostgres/impl=raw-copy", metric: "events/s", ratioName: "ours / COPY", ratio: div, target: "for reference", met: info},
		{what: "reference (issue 5's anchor): HTTP batch ingest into SQLite vs a raw batched INSERT into a plain table", ours: "BenchmarkIngestSQLite/impl=promolift-http",
			anchor: "BenchmarkIngestSQLite/impl=raw-insert", metric: "events/s", ratioName: "ours / raw INSERT", ratio: div, target: "for reference", met: info},
		{what: "context: ingest into the PostgreSQL store without HTTP (`Store.IngestEvents`) vs raw `COPY`", ours: "BenchmarkIngestPostgres/impl=promolift-store",
			anchor: "BenchmarkIngestPostgres/impl=raw-copy", metric: "events/s", ratioName: "store / COPY", ratio: div, target: "for reference", met: info},
		{what: "context: the same with 36 monthly partitions in `events` vs raw `COPY`", ours: "BenchmarkIngestPostgres/impl=promolift-store-36-months",
			anchor: "BenchmarkIngestPostgres/impl=raw-copy", metric: "events/s", ratioName: "store / COPY", ratio: div, target: "for reference", met: info},
		{what: "context: the same with every exposure a later one of an exposed unit (the steady state) vs raw `COPY`", ours: "BenchmarkIngestPostgres/impl=promolift-store-repeat",
			anchor: "BenchmarkIngestPostgres/impl=raw-copy", metric: "events/s", ratioName: "store / COPY", ratio: div, target: "for reference", met: info},
		{what: "context: the least exactly-once ingest in SQL (`COPY` into staging + `INSERT … ON CONFLICT DO NOTHING` into a table keyed by event_id, no other index, no rollups) vs raw `COPY`",
			ours: "BenchmarkIngestPostgres/impl=raw-copy-dedupe", anchor: "BenchmarkIngestPostgres/impl=raw-copy", metric: "events/s",
			ratioName: "dedupe / COPY", ratio: div, target: "for reference", met: info},
		{what: "context: ingest into the SQLite store without HTTP (`Store.IngestEvents`) vs raw INSERT", ours: "BenchmarkIngestSQLite/impl=promolift-store",
			anchor: "BenchmarkIngestSQLite/impl=raw-insert", metric: "events/s", ratioName: "store / raw INSERT", ratio: div, target: "for reference", met: info},
		{what: fmt.Sprintf("`Store.SufficientStats` at %s units / %s conversions vs GROUP BY over raw events", thousands(top), thousands(5*top)), ours: ss,
			anchor: fmt.Sprintf("BenchmarkSuffStats/units=%d/impl=raw-groupby", top), metric: "ns/op", ratioName: "raw / rollups (speed-up)", ratio: inv,
			target: "≥ 10", met: atLeast(10)},
		{what: fmt.Sprintf("its two rollup aggregates alone (without the CUPED pre-period query) at %s units vs GROUP BY over raw events", thousands(top)),
			ours:   fmt.Sprintf("BenchmarkSuffStats/units=%d/impl=rollup-sql", top),
			anchor: fmt.Sprintf("BenchmarkSuffStats/units=%d/impl=raw-groupby", top), metric: "ns/op", ratioName: "raw / rollups (speed-up)", ratio: inv,
			target: "≥ 10", met: atLeast(10)},
		{what: fmt.Sprintf("`Service.Report` at %s units vs `Store.SufficientStats` alone", thousands(top)), ours: fmt.Sprintf("BenchmarkReport/units=%d", top),
			anchor: ss, metric: "ns/op", ratioName: "report / stats", ratio: div, target: "same order (≤ 10)", met: atMost(10)},
		{what: fmt.Sprintf("`Service.Report` at %s units **with the daily series** on PostgreSQL, absolute", thousands(top)),
			ours: fmt.Sprintf("BenchmarkReportSeries/units=%d", top), anchor: fmt.Sprintf("BenchmarkReportSeries/units=%d", top),
			metric: "ns/op", ratioName: "seconds", ratio: func(o, _ float64) float64 { return o / 1e9 }, target: "≤ 1 s", met: atMost(1)},
		{what: fmt.Sprintf("the same vs `Store.SufficientStats` alone (%s units)", thousands(top)), ours: fmt.Sprintf("BenchmarkReportSeries/units=%d", top),
			anchor: ss, metric: "ns/op", ratioName: "report / stats", ratio: div, target: "same order (≤ 10)", met: atMost(10)},
	}
	// Report reads from snapshots while 8 clients assign (BenchmarkReportLoad).
	for _, st := range []struct{ key, name string }{{"sqlite", "SQLite"}, {"postgres", "PostgreSQL"}} {
		load := "BenchmarkReportLoad/store=" + st.key + "/readers="
		out = append(out,
			figure{what: "report read (`GET …/report`) p99 with 8 concurrent readers while 8 clients assign, " + st.name + ", absolute",
				ours: load + "8", anchor: load + "8", metric: "read-p99-us", ratioName: "ms",
				ratio: func(o, _ float64) float64 { return o / 1e3 }, target: "≤ 250 ms", met: atMost(250)},
			figure{what: "`POST /api/v1/assign` p99 (exposure logged, a new customer each request, 8 clients) with 8 concurrent report readers vs without, " + st.name,
				ours: load + "8", anchor: load + "0", metric: "assign-p99-us", ratioName: "with / without", ratio: div, target: "≤ 2", met: atMost(2)},
			figure{what: "stress case: the same with the report snapshot refreshed every second (a tenth of the default, so a recomputation runs most of the time), " + st.name,
				ours: load + "8-refresh=1s", anchor: load + "0", metric: "assign-p99-us", ratioName: "with / without", ratio: div,
				target: "for reference", met: info})
	}
	return out
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fmtVal(v float64, unit string) string {
	switch unit {
	case "ns/op":
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2f s", v/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.1f ms", v/1e6)
		case v >= 1e4:
			return fmt.Sprintf("%.1f µs", v/1e3)
		}
		return fmt.Sprintf("%.1f ns", v)
	case "p99/p50":
		return fmt.Sprintf("%.2f", v)
	case "MiB":
		return fmt.Sprintf("%.2f MiB", v)
	case "non-200", "report-diff":
		return fmt.Sprintf("%.0f", v)
	case "report-s":
		return fmt.Sprintf("%.1f s", v)
	}
	if strings.HasSuffix(unit, "-us") {
		return fmt.Sprintf("%.1f ms", v/1e3)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func render(res results, took time.Duration, mem *memResult) string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	p("# Performance\n\n")
	p("Generated by `make bench` (`bench/cmd/perfdoc`); do not edit by hand: edit `bench/cmd/perfdoc/main.go`.\n\n")
	p("- Date: %s\n- `go version`: %s\n- CPU (`/proc/cpuinfo`): %s\n- Wall time of the benchmark runs: %s (%s)\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), goVersion(), cpuModel(), took.Round(time.Second), stageSummary())
	p("- Load average (1 min, from `/proc/loadavg`) when the run started / ended: %s / %s. Above the CPU count, other jobs\n"+
		"  were competing for the CPUs: latencies and throughputs are depressed, ratios less so.\n\n", loadStart, loadEnd)
	p("Every figure is measured in the same run as its anchor, on the same machine. Absolute numbers move by up to 2x on a\n" +
		"shared machine; compare the **ratios**.\n\n")
	p("## Reproduce\n\n```sh\nmake bench   # starts a throw-away PostgreSQL unless PROMOLIFT_TEST_DATABASE_URL is set\n")
	p("# or, by hand, with a PostgreSQL of your own:\ncd bench && PROMOLIFT_TEST_DATABASE_URL=postgres://... go run ./cmd/perfdoc -out ../docs/performance.md\n")
	for _, r := range runs {
		p("# %s: cd bench && go %s\n", r.name, shellQuote(r.args))
	}
	p("# memory: cd bench && go %s -duration 5m -out steadymem.json\n", shellQuote(memoryArgs))
	p("```\n\n`PROMOLIFT_BENCH_MAX_UNITS=100000` shrinks the statistics data set for a quick run.\n\n")

	p("## Figures against anchors\n\n| figure | ours | anchor | ratio | target | result |\n| --- | ---: | ---: | ---: | --- | --- |\n")
	var missed []string
	for _, f := range figures(res) {
		o, okO := res[f.ours][f.metric]
		a, okA := res[f.anchor][f.metric]
		if !okO || !okA {
			why := "benchmark skipped: no PostgreSQL?"
			if f.ours == memLast {
				why = "steadymem not run"
			}
			p("| %s | not measured | not measured | | %s | not measured (%s) |\n", f.what, f.target, why)
			continue
		}
		r := f.ratio(o, a)
		ok, verdict := f.met(r)
		if !ok {
			missed = append(missed, f.what)
		}
		anchor := fmtVal(a, f.metric)
		if f.ours == f.anchor {
			anchor = "—"
		}
		p("| %s | %s | %s | %s = %.2f | %s | %s |\n", f.what, fmtVal(o, f.metric), anchor, f.ratioName, r, f.target, verdict)
	}
	if l := res["BenchmarkAssignLatency/impl=promolift"]; l != nil {
		g := res["BenchmarkAssignLatency/impl=gin-bare"]
		p("\nLatency of `POST /api/v1/assign` open-loop at half of the saturation rate (3 s, every request, from its scheduled "+
			"send time): promolift p50 %.1f ms, p99 %.1f ms (saturation %.0f req/s, sent %.0f req/s, %.0f requests; the sender's "+
			"own lateness, included, p99 %.1f ms)", l["p50-us"]/1e3, l["p99-us"]/1e3, l["sat-req/s"], l["sent-req/s"], l["requests"], l["lag-p99-us"]/1e3)
		if g != nil {
			p("; bare gin p50 %.1f ms, p99 %.1f ms, p99/p50 %.2f (saturation %.0f req/s, sender lateness p99 %.1f ms)",
				g["p50-us"]/1e3, g["p99-us"]/1e3, g["p99/p50"], g["sat-req/s"], g["lag-p99-us"]/1e3)
		}
		p(".\n")
	}
	if len(missed) > 0 {
		p("\nMissed targets: %s. See \"Why targets are missed\" below.\n", strings.Join(missed, "; "))
	}
	p("%s", notes)
	p("%s", why)

	p("\n## Growth\n\nEach row is measured in the same run; the shape, not the absolute time, is the point.\n\n")
	p("| what | size | time | expected shape |\n| --- | ---: | ---: | --- |\n")
	growth := []struct{ prefix, label, metric, shape string }{
		{"BenchmarkGrowthAssign/units=", "assignment (`Spec.Run`), distinct units", "ns/op", "O(1): flat"},
		{"BenchmarkGrowthAssign/experiments=", "assignment, experiments in the spec", "ns/op", "O(1) (map lookup above a few experiments)"},
		{"BenchmarkGrowthAssign/variants=", "assignment, variants of the experiment", "ns/op", "O(variants) bucket scan, small constant"},
		{"BenchmarkGrowthIngest/batches=", "PostgreSQL ingest, batches of 1000 events (store)", "ms/run", "linear in batches (ms/batch flat)"},
		{"BenchmarkSuffStats/units=", "`Store.SufficientStats` (rollups; the CUPED pre-period is opt-in and off here)", "ns/op", "O(units)"},
		{"BenchmarkSuffStats/units=", "its two rollup aggregates alone", "ns/op", "O(units)"},
		{"BenchmarkReport/units=", "`Service.Report` (no daily series)", "ns/op", "O(units)"},
		{"BenchmarkReportSeries/units=", "`Service.Report` with the daily series (one pass)", "ns/op", "O(units)"},
	}
	for _, g := range growth {
		for _, name := range sortedNames(res, g.prefix) {
			if strings.Contains(name, "/impl=") && !strings.HasSuffix(name, "/impl="+impl(g.label)) {
				continue
			}
			size := strings.TrimPrefix(name, g.prefix)
			size, _, _ = strings.Cut(size, "/")
			if n, err := strconv.Atoi(size); err == nil {
				size = thousands(n)
			}
			v := res[name][g.metric]
			val := fmtVal(v, g.metric)
			if g.metric == "ms/run" {
				val = fmt.Sprintf("%.0f ms (%.0f ms/batch)", v, res[name]["ms/batch"])
			}
			p("| %s | %s | %s | %s |\n", g.label, size, val, g.shape)
		}
	}
	p("%s", staticSections)
	p("%s", renderMemory(mem))
	return w.String()
}

// impl is the implementation a growth row shows for suff-stats benchmarks.
func impl(label string) string {
	if strings.HasPrefix(label, "its two rollup") {
		return "rollup-sql"
	}
	return "rollups"
}

func sortedNames(res results, prefix string) []string {
	var out []string
	for n := range res {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	num := func(s string) int {
		s = strings.TrimPrefix(s, prefix)
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if num(out[j]) < num(out[i]) || num(out[j]) == num(out[i]) && out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$|()* ") {
			a = "'" + a + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
