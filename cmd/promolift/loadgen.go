package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func init() {
	register(command{name: "loadgen", summary: "generate load against a local server (loopback only)", run: runLoadgen})
}

// Bounds of loadgen: it is a tool for measuring one's own server, never
// a way to flood someone else's.
const (
	loadgenMaxDuration    = time.Hour
	loadgenMaxConcurrency = 256
	loadgenMaxCustomers   = 10_000_000
	loadgenMaxRequests    = 100_000_000
	loadgenEventBatch     = 20
)

// loadgenOps are the operations of the mix, in output order.
var loadgenOps = []string{"assign", "config", "events", "report"}

type loadgenConfig struct {
	server      *url.URL
	key         string
	sdkKey      string // for assign, config and events; "": key
	duration    time.Duration
	customers   int
	concurrency int
	maxRequests int64
	mix         map[string]int
	experiment  string
}

func loadgenUsage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: promolift loadgen --server URL --key TOKEN [flags]")
		fmt.Fprintln(w, "\nSends a mix of API requests from --concurrency workers for --duration and prints")
		fmt.Fprintln(w, "throughput and p50/p95/p99 latency per operation. The server must be on a loopback")
		fmt.Fprintln(w, "address. --key serves every operation unless --sdk-key is given, which then serves")
		fmt.Fprintln(w, "assign, config and events as a shop's app servers do (sdk keys have no rate limit by")
		fmt.Fprintln(w, "default; admin and analyst keys have 1000/s each). report needs an admin or analyst")
		fmt.Fprintln(w, "key: use weight 0 for what the keys may not do.")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
}

func parseLoadgen(args []string, stderr io.Writer) (*loadgenConfig, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = loadgenUsage(fs)
	server := fs.String("server", "http://127.0.0.1:8080", "base URL of the server (loopback only)")
	key := fs.String("key", "", "API key sent as a bearer token (required)")
	sdkKey := fs.String("sdk-key", "", "sdk key for assign, config and events (default: --key)")
	duration := fs.Duration("duration", 30*time.Second, "how long to run (at most 1h)")
	customers := fs.Int("customers", 10000, "distinct customer ids to draw from")
	concurrency := fs.Int("concurrency", 8, "concurrent workers (at most 256)")
	maxRequests := fs.Int64("requests", 0, "stop after this many requests (0: only --duration bounds the run)")
	mix := fs.String("mix", "assign=70,config=10,events=15,report=5", "operation weights")
	experiment := fs.String("experiment", "", "experiment key for assign and report (default: assign to every running experiment; no report)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := &loadgenConfig{key: *key, sdkKey: *sdkKey, duration: *duration, customers: *customers, concurrency: *concurrency,
		maxRequests: *maxRequests, experiment: *experiment}
	if cfg.key == "" {
		return nil, errors.New("--key is required")
	}
	if cfg.duration <= 0 || cfg.duration > loadgenMaxDuration {
		return nil, fmt.Errorf("--duration must be in (0, %s], not %s", loadgenMaxDuration, cfg.duration)
	}
	if cfg.customers < 1 || cfg.customers > loadgenMaxCustomers {
		return nil, fmt.Errorf("--customers must be in [1, %d]", loadgenMaxCustomers)
	}
	if cfg.concurrency < 1 || cfg.concurrency > loadgenMaxConcurrency {
		return nil, fmt.Errorf("--concurrency must be in [1, %d]", loadgenMaxConcurrency)
	}
	if cfg.maxRequests < 0 || cfg.maxRequests > loadgenMaxRequests {
		return nil, fmt.Errorf("--requests must be in [0, %d]", loadgenMaxRequests)
	}
	u, err := loopbackURL(*server)
	if err != nil {
		return nil, err
	}
	cfg.server = u
	if cfg.mix, err = parseMix(*mix); err != nil {
		return nil, err
	}
	if cfg.mix["report"] > 0 && cfg.experiment == "" {
		return nil, errors.New("--mix has report > 0: --experiment is required")
	}
	return cfg, nil
}

// loopbackURL parses an http(s) URL whose host is a loopback address or
// "localhost" and refuses anything else.
func loopbackURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://host:port", s)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return u, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--server %q: loadgen only targets loopback addresses (127.0.0.0/8, ::1, localhost)", s)
	}
	return u, nil
}

// parseMix reads "op=weight,..." with the ops of loadgenOps.
func parseMix(s string) (map[string]int, error) {
	m := map[string]int{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || n > 1_000_000 {
			return nil, fmt.Errorf("--mix %q: want op=weight,... with weights >= 0", s)
		}
		known := false
		for _, op := range loadgenOps {
			known = known || op == name
		}
		if !known {
			return nil, fmt.Errorf("--mix: unknown operation %q (want %s)", name, strings.Join(loadgenOps, ", "))
		}
		m[name] = n
		total += n
	}
	if total == 0 {
		return nil, errors.New("--mix: the weights add up to 0")
	}
	return m, nil
}

// opStats collects the latencies of one operation.
type opStats struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors int64
	status map[int]int64
}

func (s *opStats) add(d time.Duration, code int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || code/100 != 2 && code != http.StatusNotModified {
		s.errors++
		if s.status == nil {
			s.status = map[int]int64{}
		}
		s.status[code]++
		return
	}
	s.lat = append(s.lat, d)
}

func runLoadgen(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseLoadgen(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "promolift loadgen: %v\n", err)
		return 2
	}
	res := loadgen(ctx, cfg)
	printLoadgen(stdout, cfg, res)
	if res.total == 0 {
		return 1
	}
	return 0
}

type loadgenResult struct {
	elapsed time.Duration
	total   int64
	ops     map[string]*opStats
}

func loadgen(ctx context.Context, cfg *loadgenConfig) *loadgenResult {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: cfg.concurrency, MaxIdleConnsPerHost: cfg.concurrency, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	res := &loadgenResult{ops: map[string]*opStats{}}
	var picks []string
	for _, op := range loadgenOps {
		res.ops[op] = &opStats{}
		for i := 0; i < cfg.mix[op]; i++ {
			picks = append(picks, op)
		}
	}
	base := strings.TrimSuffix(cfg.server.String(), "/")
	var sent atomic.Int64
	var seq atomic.Int64
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < cfg.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for ctx.Err() == nil {
				if cfg.maxRequests > 0 && sent.Add(1) > cfg.maxRequests {
					return
				}
				op := picks[rng.IntN(len(picks))]
				cust := fmt.Sprintf("cust-%d", rng.IntN(cfg.customers))
				var method, path string
				var body []byte
				switch op {
				case "assign":
					method, path = http.MethodPost, "/api/v1/assign"
					req := map[string]any{"unit_id": cust, "attributes": map[string]any{"country": []string{"KR", "JP", "US"}[rng.IntN(3)]}}
					if cfg.experiment != "" {
						req["experiments"] = []string{cfg.experiment}
					}
					body, _ = json.Marshal(req)
				case "config":
					method, path = http.MethodGet, "/api/v1/sdk/config"
				case "events":
					method, path = http.MethodPost, "/api/v1/events"
					body = loadgenEvents(rng, cfg, run, &seq)
				case "report":
					method, path = http.MethodGet, "/api/v1/experiments/"+url.PathEscape(cfg.experiment)+"/report"
				}
				key := cfg.key
				if op != "report" && cfg.sdkKey != "" {
					key = cfg.sdkKey
				}
				t0 := time.Now()
				code, err := loadgenDo(ctx, client, method, base+path, key, body)
				if ctx.Err() != nil {
					return // cut short by the end of the run: not counted
				}
				res.ops[op].add(time.Since(t0), code, err)
			}
		}(w)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	for _, s := range res.ops {
		res.total += int64(len(s.lat)) + s.errors
	}
	return res
}

// loadgenEvents is a batch of conversions and, with an experiment,
// exposures, with fresh event ids.
func loadgenEvents(rng *rand.Rand, cfg *loadgenConfig, run string, seq *atomic.Int64) []byte {
	type ev struct {
		EventID    string `json:"event_id"`
		Type       string `json:"type"`
		Experiment string `json:"experiment,omitempty"`
		Variant    string `json:"variant,omitempty"`
		UnitID     string `json:"unit_id"`
		Timestamp  string `json:"timestamp"`
		Name       string `json:"name,omitempty"`
		Revenue    int64  `json:"revenue,omitempty"`
		Currency   string `json:"currency,omitempty"`
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	evs := make([]ev, 0, loadgenEventBatch)
	for len(evs) < loadgenEventBatch {
		cust := fmt.Sprintf("cust-%d", rng.IntN(cfg.customers))
		id := fmt.Sprintf("lg-%s-%d", run, seq.Add(1))
		evs = append(evs, ev{EventID: id, Type: "conversion", UnitID: cust, Timestamp: now, Name: "purchase",
			Revenue: int64(500 + rng.IntN(20000)), Currency: "USD"})
	}
	b, _ := json.Marshal(map[string]any{"events": evs})
	return b
}

func loadgenDo(ctx context.Context, c *http.Client, method, url, key string, body []byte) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}

func printLoadgen(w io.Writer, cfg *loadgenConfig, res *loadgenResult) {
	secs := res.elapsed.Seconds()
	fmt.Fprintf(w, "promolift loadgen: %s, %d workers, %d customers, %.1fs\n", cfg.server.Redacted(), cfg.concurrency, cfg.customers, secs)
	fmt.Fprintf(w, "%-8s %9s %7s %10s %10s %10s %10s\n", "op", "requests", "errors", "req/s", "p50", "p95", "p99")
	for _, op := range loadgenOps {
		s := res.ops[op]
		if cfg.mix[op] == 0 {
			continue
		}
		sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
		n := int64(len(s.lat)) + s.errors
		fmt.Fprintf(w, "%-8s %9d %7d %10.1f %10s %10s %10s\n", op, n, s.errors, float64(n)/secs,
			round(pct(s.lat, 0.50)), round(pct(s.lat, 0.95)), round(pct(s.lat, 0.99)))
		if len(s.status) > 0 {
			var codes []string
			for c, k := range s.status {
				label := strconv.Itoa(c)
				if c == 0 {
					label = "transport"
				}
				codes = append(codes, fmt.Sprintf("%s×%d", label, k))
			}
			sort.Strings(codes)
			fmt.Fprintf(w, "         errors: %s\n", strings.Join(codes, " "))
		}
	}
	fmt.Fprintf(w, "%-8s %9d %7s %10.1f\n", "total", res.total, "", float64(res.total)/secs)
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
