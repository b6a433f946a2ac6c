package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// MaxGrowth is the largest growth of the heap in use, from the sample at
// the baseline to the last one, that still counts as flat.
const MaxGrowth = 0.10

// config is what one measurement runs.
type config struct {
	Duration    time.Duration // of the load
	Every       time.Duration // between heap samples
	Baseline    time.Duration // the sample the last one is compared with
	Concurrency int           // loadgen workers
	Customers   int           // loadgen --customers
	Mix         string        // loadgen --mix
	Profiles    string        // if set, keep every heap profile in this directory
}

// memProfileRate is the heap profile's sampling interval in the server
// (GODEBUG=memprofilerate): one sample per 4 KiB allocated instead of the
// default 512 KiB, so that a heap of a few MiB is estimated within a few
// percent (hundreds of samples) at a cost of a few percent of CPU.
const memProfileRate = 4 << 10

// loadTail is how much longer than -duration loadgen runs, so that the
// sample at -duration is taken under load like the one it is compared with.
const loadTail = 5 * time.Second

// Sample is one heap profile of the server, taken after a forced GC.
type Sample struct {
	Elapsed float64 `json:"elapsed_s"` // since the load started
	// Phase is "idle" (before the load), "load", or "after" (the load
	// has ended: what the server retains).
	Phase string `json:"phase"`
	// InuseBytes and InuseObjects add up the profile's inuse_space and
	// inuse_objects: the live heap at that GC, as estimated from samples.
	InuseBytes   int64 `json:"inuse_space_bytes"`
	InuseObjects int64 `json:"inuse_objects"`
	// HeapAlloc and HeapInuse are the exact runtime.MemStats the server
	// reports after a second GC (/debug/pprof/heap?gc=1&debug=1); under
	// load they include what in-flight requests allocated since.
	HeapAlloc  int64 `json:"heap_alloc_bytes"`
	HeapInuse  int64 `json:"heap_inuse_bytes"`
	Goroutines int   `json:"goroutines"`
}

// Result is what steadymem writes with -out and perfdoc reads.
type Result struct {
	Date        string   `json:"date"` // UTC, RFC 3339
	Command     string   `json:"command"`
	Store       string   `json:"store"`
	Duration    float64  `json:"duration_s"` // of the samples under load; loadgen runs loadTail longer
	Every       float64  `json:"every_s"`
	Concurrency int      `json:"concurrency"`
	Customers   int      `json:"customers"`
	Mix         string   `json:"mix"`
	Samples     []Sample `json:"samples"`

	// Loadgen is the load generator's own summary; Requests, Errors and
	// ReqPerSec come from its total and per-operation lines.
	Loadgen   string  `json:"loadgen"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ReqPerSec float64 `json:"req_per_s"`
	// ExposedUnits and Exposures are what the store holds of the
	// experiment after the run: the units its assign requests exposed, and
	// their exposure events (one per unit and day, as the requests log them).
	ExposedUnits int64 `json:"exposed_units"`
	Exposures    int64 `json:"exposures"`

	// Baseline is the sample under load at (or nearest to) the baseline
	// time, Last the last one under load (at -duration); Growth =
	// Last/Baseline - 1 of the heap in use (inuse_space), Flat = Growth <=
	// MaxGrowth.
	Baseline  Sample  `json:"baseline"`
	Last      Sample  `json:"last"`
	Growth    float64 `json:"growth"`
	MaxGrowth float64 `json:"max_growth"`
	Flat      bool    `json:"flat"`
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.Duration, "duration", 5*time.Minute, "how long to load the server")
	flag.DurationVar(&cfg.Every, "every", 30*time.Second, "heap sampling interval")
	flag.DurationVar(&cfg.Baseline, "baseline", time.Minute, "compare the last sample with the one at this time")
	flag.IntVar(&cfg.Concurrency, "concurrency", 4, "loadgen workers")
	flag.IntVar(&cfg.Customers, "customers", 100000, "distinct customers loadgen draws from")
	flag.StringVar(&cfg.Mix, "mix", "assign=70,config=10,events=15,report=5", "loadgen operation weights")
	flag.StringVar(&cfg.Profiles, "profiles", "", "keep every heap profile in this directory (for go tool pprof)")
	out := flag.String("out", "", "write the samples and the verdict as JSON to this file")
	flag.Parse()
	res, err := run(context.Background(), cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "steadymem:", err)
		os.Exit(1)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "steadymem:", err)
			os.Exit(1)
		}
	}
}

// run builds promolift, serves it on a fresh SQLite file with the pprof
// listener, loads it with promolift loadgen for cfg.Duration and samples
// the heap profile every cfg.Every. It prints the samples to w as they
// come.
func run(ctx context.Context, cfg config, w io.Writer) (*Result, error) {
	if cfg.Every <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("-duration and -every must be positive")
	}
	dir, err := os.MkdirTemp("", "promolift-steadymem-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := build(dir)
	if err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "promolift.db")
	token, err := seed(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("seed the database: %w", err)
	}
	srv, err := startServe(bin, db)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	res := &Result{Date: time.Now().UTC().Format(time.RFC3339), Store: "SQLite", Duration: cfg.Duration.Seconds(),
		Every: cfg.Every.Seconds(), Concurrency: cfg.Concurrency, Customers: cfg.Customers, Mix: cfg.Mix, MaxGrowth: MaxGrowth,
		Command: fmt.Sprintf("cd bench && go run ./cmd/steadymem -duration %s -every %s -baseline %s -concurrency %d",
			cfg.Duration, cfg.Every, cfg.Baseline, cfg.Concurrency)}
	fmt.Fprintf(w, "steadymem: promolift serve at %s, pprof at %s\n", srv.api, srv.pprof)
	fmt.Fprintf(w, "%8s %14s %14s %14s %14s %12s\n", "elapsed", "inuse_space", "inuse_objects", "HeapAlloc", "HeapInuse", "goroutines")
	take := func(elapsed time.Duration, phase string) error {
		s, err := srv.sample(cfg.Profiles, elapsed)
		if err != nil {
			return err
		}
		s.Phase = phase
		res.Samples = append(res.Samples, s)
		fmt.Fprintf(w, "%8s %10.2f MiB %14d %10.2f MiB %10.2f MiB %12d\n", elapsed.Round(time.Second), float64(s.InuseBytes)/(1<<20),
			s.InuseObjects, float64(s.HeapAlloc)/(1<<20), float64(s.HeapInuse)/(1<<20), s.Goroutines)
		return nil
	}
	if err := take(0, "idle"); err != nil {
		return nil, err
	}

	var lgOut bytes.Buffer
	lg := exec.Command(bin, "loadgen", "--server", srv.api, "--key", token, "--duration", (cfg.Duration + loadTail).String(),
		"--concurrency", strconv.Itoa(cfg.Concurrency), "--customers", strconv.Itoa(cfg.Customers), "--mix", cfg.Mix,
		"--experiment", "spring-sale")
	lg.Stdout, lg.Stderr = &lgOut, os.Stderr
	start := time.Now()
	if err := lg.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- lg.Wait() }()
	finished := false
	defer func() { // a failed sample ends the load early
		if !finished {
			_ = lg.Process.Kill()
			<-done
		}
	}()
	// Samples under load at every multiple of cfg.Every up to
	// cfg.Duration (and at cfg.Duration), then one when the load has ended.
	for k := 1; ; k++ {
		at := min(time.Duration(k)*cfg.Every, cfg.Duration)
		var tick <-chan time.Time
		if at > time.Duration(k-1)*cfg.Every {
			tick = time.After(time.Until(start.Add(at)))
		}
		select {
		case err := <-done:
			finished = true
			if err != nil {
				return nil, fmt.Errorf("promolift loadgen: %w\n%s", err, lgOut.String())
			}
			if err := take(time.Since(start), "after"); err != nil {
				return nil, err
			}
			res.Loadgen = strings.TrimSpace(lgOut.String())
			fmt.Fprintln(w, res.Loadgen)
			res.Requests, res.Errors, res.ReqPerSec = parseLoadgen(res.Loadgen)
			if res.Requests == 0 {
				return nil, errors.New("promolift loadgen sent no request")
			}
			if err := verdict(res, cfg.Baseline); err != nil {
				return nil, err
			}
			fmt.Fprintf(w, "steadymem: heap in use %.2f MiB at %s, %.2f MiB at %s: %+.1f%% (flat: %v, at most %+.0f%%)\n",
				float64(res.Baseline.InuseBytes)/(1<<20), time.Duration(res.Baseline.Elapsed*float64(time.Second)).Round(time.Second),
				float64(res.Last.InuseBytes)/(1<<20), time.Duration(res.Last.Elapsed*float64(time.Second)).Round(time.Second),
				res.Growth*100, res.Flat, MaxGrowth*100)
			if err := srv.stop(); err != nil {
				return nil, err
			}
			if res.ExposedUnits, res.Exposures, err = exposed(ctx, db); err != nil {
				return nil, fmt.Errorf("read the exposures: %w", err)
			}
			fmt.Fprintf(w, "steadymem: the store holds %d exposures of %d units\n", res.Exposures, res.ExposedUnits)
			return res, nil
		case <-tick:
			if err := take(at, "load"); err != nil {
				return nil, err
			}
		}
	}
}

// verdict compares the last sample under load with the one under load
// nearest to baseline.
func verdict(res *Result, baseline time.Duration) error {
	var loaded []Sample
	for _, s := range res.Samples {
		if s.Phase == "load" {
			loaded = append(loaded, s)
		}
	}
	if len(loaded) < 2 {
		return fmt.Errorf("%d samples under load: -duration must be at least two -every", len(loaded))
	}
	res.Last = loaded[len(loaded)-1]
	best := loaded[0]
	for _, s := range loaded[:len(loaded)-1] {
		if math.Abs(s.Elapsed-baseline.Seconds()) < math.Abs(best.Elapsed-baseline.Seconds()) {
			best = s
		}
	}
	res.Baseline = best
	res.Growth = float64(res.Last.InuseBytes)/float64(max(best.InuseBytes, 1)) - 1
	res.Flat = res.Growth <= MaxGrowth
	return nil
}

// build compiles cmd/promolift into dir. It builds in the product's own
// module (bench replaces it with ../), so its go.sum, not bench's,
// resolves the binary's dependencies.
func build(dir string) (string, error) {
	bin := filepath.Join(dir, "promolift")
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/promolift/promolift").Output()
	if err != nil {
		return "", fmt.Errorf("find the promolift module: %w", err)
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/promolift")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build promolift: %w", err)
	}
	return bin, nil
}

// seed creates the database with an admin key and the running experiment
// spring-sale (every unit in it, as an experiment created over HTTP
// defaults to: assign requests log an exposure, as apps' calls do), and
// returns the key.
func seed(ctx context.Context, db string) (string, error) {
	store, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		return "", err
	}
	defer store.Close()
	svc := experiments.NewService(store, nil)
	svc.SetConditionChecker(func(doc []byte) error { _, err := assign.ParseCondition(doc); return err })
	token, _, err := svc.EnsureAdminKey(ctx, "")
	if err != nil {
		return "", err
	}
	e := &experiments.Experiment{Key: "spring-sale", PrimaryMetric: "purchase", Coverage: 1,
		Variants: []experiments.Variant{{Key: "control", Weight: 0.5}, {Key: "ten_off", Weight: 0.5}}}
	if err := svc.CreateExperiment(ctx, experiments.Principal{}, e); err != nil {
		return "", err
	}
	if _, err := svc.Transition(ctx, experiments.Principal{}, "spring-sale", experiments.ActionStart); err != nil {
		return "", err
	}
	return token, store.Close()
}

// exposed reads from the database, once the server has stopped, the units
// the experiment exposed and their exposure events (the multiple-exposed
// units, in two variants, included).
func exposed(ctx context.Context, db string) (units, exposures int64, err error) {
	store, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		return 0, 0, err
	}
	defer store.Close()
	st, err := store.SufficientStats(ctx, experiments.StatsQuery{Experiment: "spring-sale", MultipleExposure: experiments.MultipleFirst})
	if err != nil {
		return 0, 0, err
	}
	for _, v := range st.Variants {
		units += v.Units
		exposures += v.Exposures
	}
	return units, exposures, nil
}

// server is a running promolift serve.
type server struct {
	cmd        *exec.Cmd
	api, pprof string // base URLs
	exited     chan struct{}
	waitErr    error
	stopOnce   sync.Once
	stopErr    error
}

var (
	apiLine   = regexp.MustCompile(`^promolift: listening on (http://\S+)$`)
	pprofLine = regexp.MustCompile(`^promolift: pprof listening on (http://\S+)/debug/pprof/$`)
)

// startServe starts promolift serve on loopback ports chosen by the kernel,
// with the pprof listener, and waits until both listen. Warnings and
// errors of the server go to stderr.
func startServe(bin, db string) (*server, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--pprof-addr", "127.0.0.1:0", "--db", db,
		"--log-level", "warn")
	// The server's settings are the flags above and the defaults, whatever
	// PROMOLIFT_* variables the caller's environment holds.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PROMOLIFT_") && !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, fmt.Sprintf("GODEBUG=memprofilerate=%d", memProfileRate))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, exited: make(chan struct{})}
	addrs := make(chan [2]string, 2)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if m := apiLine.FindStringSubmatch(l); m != nil {
				addrs <- [2]string{"api", m[1]}
			} else if m := pprofLine.FindStringSubmatch(l); m != nil {
				addrs <- [2]string{"pprof", m[1]}
			} else {
				fmt.Fprintln(os.Stderr, "serve:", l)
			}
		}
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	timeout := time.After(time.Minute)
	for s.api == "" || s.pprof == "" {
		select {
		case a := <-addrs:
			if a[0] == "api" {
				s.api = a[1]
			} else {
				s.pprof = a[1]
			}
		case <-s.exited:
			return nil, fmt.Errorf("promolift serve exited before listening: %v", s.waitErr)
		case <-timeout:
			s.stop()
			return nil, errors.New("promolift serve did not print its addresses within a minute")
		}
	}
	return s, nil
}

// stop interrupts the server and waits for it (killing it after 30 s);
// it reports a server that failed or did not stop cleanly.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				s.stopErr = fmt.Errorf("promolift serve: %w", s.waitErr)
			}
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = errors.New("promolift serve did not stop within 30 s of SIGINT")
		}
	})
	return s.stopErr
}

var client = &http.Client{Timeout: time.Minute}

func fetch(url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, nil
}

// sample fetches the heap profile after a GC (gc=1) and the goroutine
// count from the server's pprof listener; with dir set it keeps the
// profile there.
func (s *server) sample(dir string, elapsed time.Duration) (Sample, error) {
	raw, err := fetch(s.pprof + "/debug/pprof/heap?gc=1")
	if err != nil {
		return Sample{}, err
	}
	if dir != "" {
		name := filepath.Join(dir, fmt.Sprintf("heap-%04ds.pb.gz", int(elapsed.Seconds())))
		if err := os.WriteFile(name, raw, 0o644); err != nil {
			return Sample{}, err
		}
	}
	out := Sample{Elapsed: math.Round(elapsed.Seconds()*10) / 10}
	if out.InuseBytes, out.InuseObjects, err = inuse(raw); err != nil {
		return Sample{}, err
	}
	text, err := fetch(s.pprof + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return Sample{}, err
	}
	if out.HeapAlloc, out.HeapInuse, err = memStats(text); err != nil {
		return Sample{}, err
	}
	g, err := fetch(s.pprof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return Sample{}, err
	}
	if out.Goroutines, err = goroutines(g); err != nil {
		return Sample{}, err
	}
	return out, nil
}

// inuse sums the inuse_space and inuse_objects of a heap profile (the
// profile's own estimate of the live heap at the last GC).
func inuse(raw []byte) (space, objects int64, err error) {
	p, err := profile.ParseData(raw)
	if err != nil {
		return 0, 0, fmt.Errorf("parse the heap profile: %w", err)
	}
	iSpace, iObjects := -1, -1
	for i, st := range p.SampleType {
		switch st.Type {
		case "inuse_space":
			iSpace = i
		case "inuse_objects":
			iObjects = i
		}
	}
	if iSpace < 0 || iObjects < 0 {
		return 0, 0, errors.New("the heap profile has no inuse_space or inuse_objects")
	}
	for _, s := range p.Sample {
		space += s.Value[iSpace]
		objects += s.Value[iObjects]
	}
	return space, objects, nil
}

var memStatLine = regexp.MustCompile(`(?m)^# (HeapAlloc|HeapInuse) = (\d+)$`)

// memStats reads HeapAlloc and HeapInuse from the runtime.MemStats that
// /debug/pprof/heap?debug=1 ends with.
func memStats(text []byte) (alloc, inuse int64, err error) {
	found := 0
	for _, m := range memStatLine.FindAllSubmatch(text, -1) {
		n, err := strconv.ParseInt(string(m[2]), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if string(m[1]) == "HeapAlloc" {
			alloc = n
		} else {
			inuse = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no HeapAlloc and HeapInuse in /debug/pprof/heap?debug=1")
	}
	return alloc, inuse, nil
}

var goroutineTotal = regexp.MustCompile(`(?m)^goroutine profile: total (\d+)$`)

// goroutines reads the total of /debug/pprof/goroutine?debug=1.
func goroutines(text []byte) (int, error) {
	m := goroutineTotal.FindSubmatch(text)
	if m == nil {
		return 0, errors.New("no \"goroutine profile: total\" line in /debug/pprof/goroutine?debug=1")
	}
	return strconv.Atoi(string(m[1]))
}

// parseLoadgen reads the requests and req/s of loadgen's total line and
// adds up the errors column of its operation lines.
func parseLoadgen(out string) (requests, errs int64, perSec float64) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "total":
			if len(f) >= 3 {
				requests, _ = strconv.ParseInt(f[1], 10, 64)
				perSec, _ = strconv.ParseFloat(f[2], 64)
			}
		case "assign", "config", "events", "report":
			if len(f) >= 3 {
				n, _ := strconv.ParseInt(f[2], 10, 64)
				errs += n
			}
		}
	}
	return requests, errs, perSec
}
