package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/sqlite"
)

// The serving path as apps use it (issue 17): a real `promolift serve`
// process with its default settings, servingClients concurrent clients
// over loopback, a new customer on every request. Per store it measures
// POST /api/v1/assign with log_exposure false, with the exposure logged
// (the default) and OFREP single evaluation of an experiment (which logs
// the exposure); the floor is a bare gin handler decoding the same bodies.
// Every answer other than 200 is counted (429s and 5xx apart), and after
// the run every 200 that logged an exposure must be a unit of the
// experiment's report within servingReportWait.
//
// PostgreSQL runs on a cluster of its own started with PostgreSQL's
// durable defaults (fsync, synchronous_commit and full_page_writes on):
// the test cluster of make bench has them off.
//
// Each run also reports the CPU time the server (server-us/req), the
// PostgreSQL cluster (postgres-us/req) and the load generator
// (client-us/req) spent per answered request, which a loaded machine moves
// far less than throughput; PROMOLIFT_BENCH_PROFILE_DIR has each run write
// the server's CPU profile.

const (
	servingClients = 64
	// servingWarmup precedes each measured run. A server that has just
	// started opens its store connections and PostgreSQL plans the
	// exposure statement on each during its first second or so under
	// this load (tens of ms of the cluster's CPU per plan): a server in
	// production did that long ago, so the warm-up leaves it out.
	servingWarmup     = 2 * time.Second
	servingDuration   = 3 * time.Second
	servingReportWait = 60 * time.Second
	servingAdminKey   = "pl_admin0000_bench-serving-secret-0123456789"
)

// servingEnv is a running promolift serve over one store.
type servingEnv struct {
	base, sdk string
	pprof     string // the server's pprof base URL, when servingProfileDir is set
	// postmaster is the PID of the PostgreSQL cluster's postmaster (0:
	// SQLite, or not found).
	postmaster int
	cmd        *exec.Cmd
	exited     chan struct{}
}

// promoliftBin builds cmd/promolift once, in the product's own module.
func promoliftBin(b testing.TB) string {
	return fixture(b, "promolift-bin", func() (string, error) {
		root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/promolift/promolift").Output()
		if err != nil {
			return "", fmt.Errorf("find the promolift module: %w", err)
		}
		bin := filepath.Join(tmpDir, "promolift")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/promolift")
		cmd.Dir = strings.TrimSpace(string(root))
		cmd.Stderr = os.Stderr
		return bin, cmd.Run()
	})
}

// durablePostgres starts a throw-away cluster with PostgreSQL's durable
// defaults (.ci/pg.sh with PG_DURABLE=1) and returns its URL. It needs the
// PostgreSQL binaries, as the rest of the PostgreSQL benchmarks need a
// server: without PROMOLIFT_TEST_DATABASE_URL it is skipped.
//
// PROMOLIFT_BENCH_DURABLE_URL names a durable cluster of the caller's
// instead (to watch it with pg_stat_statements, say): the benchmark then
// uses it as it is.
func durablePostgres(b testing.TB) string {
	if url := os.Getenv("PROMOLIFT_BENCH_DURABLE_URL"); url != "" {
		return url
	}
	pgBase(b)
	return fixture(b, "pg-durable", func() (string, error) {
		dir, err := os.MkdirTemp("", "promolift-bench-pg-")
		if err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", err
		}
		pgdir := filepath.Join(dir, "pg")
		cmd := exec.Command("../.ci/pg.sh", "start", pgdir)
		cmd.Env = append(os.Environ(), "PG_DURABLE=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("pg.sh start: %w", err)
		}
		cleanups = append(cleanups, func() {
			_ = exec.Command("../.ci/pg.sh", "stop", pgdir).Run()
			os.RemoveAll(dir)
		})
		return strings.TrimSpace(string(out)), nil
	})
}

// servingStore opens the store of kind ("sqlite" or "postgres" at pgURL)
// the server will use and returns it with the server's --db.
func servingStore(kind, pgURL string) (experiments.Store, string, error) {
	ctx := context.Background()
	if kind == "sqlite" {
		db := filepath.Join(tmpDir, "serving.db")
		s, err := sqlite.Open(ctx, db, nil)
		return s, db, err
	}
	s, err := postgres.Open(ctx, pgURL, nil)
	return s, pgURL, err
}

var (
	listenLine = regexp.MustCompile(`^promolift: listening on (http://\S+)$`)
	pprofLine  = regexp.MustCompile(`^promolift: pprof listening on (http://\S+)/debug/pprof/$`)
)

// servingProfileDir, from PROMOLIFT_BENCH_PROFILE_DIR, is where each
// serving run writes the CPU profile of the server process during its
// measured load (<store>-<path>.pprof); empty: no profiling (the server
// then runs without a pprof listener, as in make bench).
var servingProfileDir = os.Getenv("PROMOLIFT_BENCH_PROFILE_DIR")

// servingAPI seeds a store of kind with an admin key, an sdk key and the
// running experiments srv-assign and srv-ofrep, then starts promolift
// serve on it with nothing but --addr, --db and --log-level set.
func servingAPI(b testing.TB, kind string) *servingEnv {
	bin := promoliftBin(b)
	pgURL := "" // fixture holds its lock while it builds: no fixture inside
	if kind == "postgres" {
		pgURL = durablePostgres(b)
	}
	return fixture(b, "serving-"+kind, func() (*servingEnv, error) {
		ctx := context.Background()
		store, db, err := servingStore(kind, pgURL)
		if err != nil {
			return nil, err
		}
		svc := experiments.NewService(store, nil)
		if _, _, err := svc.EnsureAdminKey(ctx, servingAdminKey); err != nil {
			store.Close()
			return nil, err
		}
		_, sdk, err := svc.CreateKey(ctx, experiments.Principal{}, "bench", experiments.ScopeSDK, "")
		if err != nil {
			store.Close()
			return nil, err
		}
		for _, k := range []string{"srv-assign", "srv-ofrep"} {
			if err := newExperiment(ctx, store, k, 2); err != nil {
				store.Close()
				return nil, err
			}
		}
		if err := store.Close(); err != nil {
			return nil, err
		}
		args := []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--log-level", "warn"}
		if servingProfileDir != "" {
			args = append(args, "--pprof-addr", "127.0.0.1:0")
		}
		cmd := exec.Command(bin, args...)
		for _, kv := range os.Environ() { // the defaults, whatever the caller's environment says
			if !strings.HasPrefix(kv, "PROMOLIFT_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		e := &servingEnv{sdk: sdk, cmd: cmd, exited: make(chan struct{})}
		if kind == "postgres" {
			e.postmaster = postmasterPID(pgURL)
		}
		addr := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
					addr <- m[1]
				} else if m := pprofLine.FindStringSubmatch(sc.Text()); m != nil {
					e.pprof = m[1] // printed before the API's line, read after it
				} else {
					fmt.Fprintln(os.Stderr, "serve:", sc.Text())
				}
			}
			_ = cmd.Wait()
			close(e.exited)
		}()
		cleanups = append(cleanups, func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-e.exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
			}
		})
		select {
		case e.base = <-addr:
		case <-e.exited:
			return nil, errors.New("promolift serve exited before listening")
		case <-time.After(time.Minute):
			return nil, errors.New("promolift serve did not listen within a minute")
		}
		return e, nil
	})
}

// profile writes the server's CPU profile over the next servingDuration
// to servingProfileDir/name.pprof (nothing without servingProfileDir) and
// sends the outcome on the returned channel.
func (e *servingEnv) profile(name string) <-chan error {
	done := make(chan error, 1)
	if servingProfileDir == "" || e.pprof == "" {
		done <- nil
		return done
	}
	go func() {
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", e.pprof, int(servingDuration/time.Second))
		resp, err := http.Get(url)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(servingProfileDir, name+".pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		done <- errors.Join(err, f.Close())
	}()
	return done
}

// servingCPU is the CPU time the server, its PostgreSQL and this process
// (the load generator) had used when a run began.
type servingCPU struct {
	e                        *servingEnv
	server, postgres, client time.Duration
	ok, pgOK, clientOK       bool
}

func (e *servingEnv) cpu() servingCPU {
	c := servingCPU{e: e}
	c.server, c.ok = processCPU(e.cmd.Process.Pid)
	c.client, c.clientOK = processCPU(os.Getpid())
	if e.postmaster != 0 {
		c.postgres, c.pgOK = clusterCPU(e.postmaster)
	}
	return c
}

// report reports the CPU time per answered request since c was taken:
// the server's (server-us/req), on PostgreSQL the cluster's
// (postgres-us/req), and the load generator's (client-us/req: this
// process, whose other fixtures are idle meanwhile). Their sum is what a
// request costs the machine: with nothing else running, throughputs
// compare as the inverse of these sums.
func (c servingCPU) report(b *testing.B, answered int64) {
	if answered == 0 {
		return
	}
	now := c.e.cpu()
	if c.ok && now.ok {
		b.ReportMetric(float64((now.server-c.server).Microseconds())/float64(answered), "server-us/req")
	}
	if c.pgOK && now.pgOK {
		b.ReportMetric(float64((now.postgres-c.postgres).Microseconds())/float64(answered), "postgres-us/req")
	}
	if c.clientOK && now.clientOK {
		b.ReportMetric(float64((now.client-c.client).Microseconds())/float64(answered), "client-us/req")
	}
}

// servingPath is one request kind of the serving benchmark.
type servingPath struct {
	name       string
	path       string // "" for the bare gin floor
	experiment string // whose report must count the units ("" when no exposure is logged)
	body       func(unit string) []byte
}

func assignBodyFor(exp string, logExposure bool) func(string) []byte {
	return func(unit string) []byte {
		return []byte(`{"unit_id":"` + unit + `","attributes":{"country":"KR","tier":"gold"},"experiments":["` + exp +
			`"],"log_exposure":` + strconv.FormatBool(logExposure) + `}`)
	}
}

func ofrepBody(unit string) []byte {
	return []byte(`{"context":{"targetingKey":"` + unit + `","country":"KR","tier":"gold"}}`)
}

var servingPaths = []servingPath{
	{name: "assign-no-exposure", path: "/api/v1/assign", body: assignBodyFor("srv-assign", false)},
	{name: "assign", path: "/api/v1/assign", experiment: "srv-assign", body: assignBodyFor("srv-assign", true)},
	{name: "ofrep", path: "/ofrep/v1/evaluate/flags/srv-ofrep", experiment: "srv-ofrep", body: ofrepBody},
}

// servingCounts are the answers of one run.
type servingCounts struct {
	ok, tooMany, server, other atomic.Int64
}

// servingLoad sends requests from servingClients clients back to back for
// d, each for a new unit (prefix and a counter), and counts the answers.
func servingLoad(url, token, prefix string, body func(string) []byte, d time.Duration, c *servingCounts) (float64, error) {
	var next atomic.Int64
	var failed atomic.Value
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for range servingClients {
		wg.Go(func() {
			for time.Now().Before(stop) {
				unit := prefix + strconv.FormatInt(next.Add(1), 10)
				status, err := postStatus(url, token, body(unit))
				switch {
				case err != nil:
					failed.Store(err)
					return
				case status == http.StatusOK:
					c.ok.Add(1)
				case status == http.StatusTooManyRequests:
					c.tooMany.Add(1)
				case status >= 500:
					c.server.Add(1)
				default:
					c.other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return float64(c.ok.Load()) / time.Since(start).Seconds(), nil
}

// postStatus sends body and returns the status.
func postStatus(url, token string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// reportUnits returns the units of experiment exp in its report.
func reportUnits(base, exp string) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/experiments/"+exp+"/report", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+servingAdminKey)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("report %s: %d %s", exp, resp.StatusCode, data)
	}
	var r struct {
		Variants []struct {
			Units int64 `json:"units"`
		} `json:"variants"`
		MultipleExposedUnits int64 `json:"multiple_exposed_units"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return 0, err
	}
	n := r.MultipleExposedUnits
	for _, v := range r.Variants {
		n += v.Units
	}
	return n, nil
}

// awaitReport waits until the report of exp counts want units (at most
// servingReportWait) and returns how long that took and the units it
// counts at the end.
func awaitReport(base, exp string, want int64) (time.Duration, int64, error) {
	start := time.Now()
	for {
		n, err := reportUnits(base, exp)
		if err != nil {
			return 0, 0, err
		}
		if n == want || time.Since(start) > servingReportWait {
			return time.Since(start), n, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// servingFloor is the bare gin handler of BenchmarkAssignHTTP, here
// answering every path.
func servingFloor(b testing.TB) string { return bareGin(b).URL + "/api/v1/assign" }

// BenchmarkServing: see the comment at the top of the file. One
// measurement whatever b.N.
func BenchmarkServing(b *testing.B) {
	b.Run("path=gin-bare", func(b *testing.B) {
		var c servingCounts
		url := servingFloor(b)
		body := assignBodyFor("spring-sale", true)
		if _, err := servingLoad(url, "", "w-", body, servingWarmup, &servingCounts{}); err != nil {
			b.Fatal(err)
		}
		rate, err := servingLoad(url, "", "g-", body, servingDuration, &c)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rate, "req/s")
		b.ReportMetric(float64(c.server.Load()+c.tooMany.Load()+c.other.Load()), "non-200")
	})
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, p := range servingPaths {
			b.Run("store="+kind+"/path="+p.name, func(b *testing.B) {
				e := servingAPI(b, kind)
				url := e.base + p.path
				var c servingCounts
				// The warm-up's 200s count toward the report's units too.
				if _, err := servingLoad(url, e.sdk, p.name+"-w-", p.body, servingWarmup, &c); err != nil {
					b.Fatal(err)
				}
				warm := c.ok.Load()
				c.ok.Store(0)
				profiled := e.profile(kind + "-" + p.name)
				cpu := e.cpu()
				rate, err := servingLoad(url, e.sdk, p.name+"-", p.body, servingDuration, &c)
				if err != nil {
					b.Fatal(err)
				}
				cpu.report(b, c.ok.Load())
				if err := <-profiled; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(rate, "req/s")
				b.ReportMetric(float64(c.tooMany.Load()), "http-429")
				b.ReportMetric(float64(c.server.Load()), "http-5xx")
				b.ReportMetric(float64(c.other.Load()), "http-other")
				if p.experiment == "" {
					return
				}
				want := c.ok.Load() + warm
				took, got, err := awaitReport(e.base, p.experiment, want)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(want), "acked")
				b.ReportMetric(float64(got-want), "report-diff")
				b.ReportMetric(took.Seconds(), "report-s")
			})
		}
	}
}
