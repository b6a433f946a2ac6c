package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/postgres"
)

const faultAdminKey = "pl_admin0000_fault-test-secret-0123456789"

// pgCluster is a throw-away cluster started by .ci/pg.sh, which the test
// may stop and start again.
type pgCluster struct {
	dir, url, port, bindir string
}

func startCluster(t *testing.T) *pgCluster {
	t.Helper()
	if os.Getenv("PROMOLIFT_TEST_DATABASE_URL") == "" && os.Getenv("PROMOLIFT_REQUIRE_POSTGRES") != "1" {
		t.Skip("PROMOLIFT_TEST_DATABASE_URL is not set: no PostgreSQL for tests here")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Strings(bins)
	if len(bins) == 0 {
		t.Skip("no PostgreSQL binaries")
	}
	// The server runs as the user postgres, which must reach the directory.
	tmp, err := os.MkdirTemp("", "promolift-pgfault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{dir: filepath.Join(tmp, "pg"), bindir: filepath.Dir(bins[len(bins)-1])}
	cmd := exec.Command("../../.ci/pg.sh", "start", c.dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg.sh start: %v: %s", err, stderr.String())
	}
	c.url = strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("../../.ci/pg.sh", "stop", c.dir).Run() })
	u, err := url.Parse(c.url)
	if err != nil {
		t.Fatal(err)
	}
	c.port = u.Port()
	return c
}

func (c *pgCluster) pgctl(args ...string) error {
	name, all := filepath.Join(c.bindir, "pg_ctl"), args
	if os.Geteuid() == 0 {
		name, all = "runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bindir, "pg_ctl")}, args...)
	}
	out, err := exec.Command(name, all...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v: %s", args[0], err, out)
	}
	return nil
}

func (c *pgCluster) stop() error {
	return c.pgctl("-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop")
}

func (c *pgCluster) start() error {
	return c.pgctl("-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start",
		"-o", "-c listen_addresses=127.0.0.1 -p "+c.port+" -k "+c.dir+" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
}

// TestPostgresRestartUnderLoad stops PostgreSQL while event batches and
// reads flow: while it is down requests fail fast with 503 (never 500,
// never hang) and /readyz says 503; once it is back, service resumes
// without restarting promolift.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL cluster")
	}
	c := startCluster(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, c.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := experiments.NewService(s, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, faultAdminKey); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Config{ReadyTimeout: time.Second}, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	hc := &http.Client{Timeout: 15 * time.Second}
	do := func(method, path, body string) (int, time.Duration) {
		start := time.Now()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+faultAdminKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, time.Since(start)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	if code, _ := do("POST", "/api/v1/experiments", `{"key":"fault","variants":[{"key":"a","weight":0.5},{"key":"b","weight":0.5}]}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if code, _ := do("POST", "/api/v1/experiments/fault/start", ""); code != 200 {
		t.Fatalf("start: %d", code)
	}

	var down atomic.Bool
	var mu sync.Mutex
	statuses := map[string]map[int]int{} // "up"/"down" -> status -> count
	var slowest time.Duration
	var seq atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var code int
				var d time.Duration
				if w == 2 {
					code, d = do("GET", "/api/v1/experiments/fault", "")
				} else {
					n := seq.Add(1)
					code, d = do("POST", "/api/v1/events", fmt.Sprintf(`{"events":[{"event_id":"f%d","type":"exposure","unit_id":"u%d","timestamp":"%s","experiment":"fault","variant":"a"}]}`,
						n, n%50, time.Now().UTC().Format(time.RFC3339)))
				}
				phase := "up"
				if down.Load() {
					phase = "down"
				}
				mu.Lock()
				if statuses[phase] == nil {
					statuses[phase] = map[int]int{}
				}
				statuses[phase][code]++
				slowest = max(slowest, d)
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	time.Sleep(300 * time.Millisecond) // let in-flight requests of the "up" phase drain
	readyCode, readyTook := do("GET", "/readyz", "")
	time.Sleep(1500 * time.Millisecond)
	down.Store(false)
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	// Service resumes without restarting promolift.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := do("GET", "/readyz", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 20 s after PostgreSQL came back", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	n := seq.Add(1)
	if code, _ := do("POST", "/api/v1/events", fmt.Sprintf(`{"events":[{"event_id":"f%d","type":"exposure","unit_id":"u","timestamp":"%s","experiment":"fault","variant":"a"}]}`,
		n, time.Now().UTC().Format(time.RFC3339))); code != 200 {
		t.Errorf("ingest after the restart: %d", code)
	}

	mu.Lock()
	defer mu.Unlock()
	t.Logf("statuses while up %v, while down %v; /readyz while down %d in %v; slowest request %v",
		statuses["up"], statuses["down"], readyCode, readyTook, slowest)
	if readyCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while PostgreSQL is down = %d, want 503", readyCode)
	}
	if statuses["down"][http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 while PostgreSQL was down: %v", statuses["down"])
	}
	for phase, m := range statuses {
		for code, k := range m {
			if code >= 500 && code != http.StatusServiceUnavailable || code == 0 {
				t.Errorf("%d requests got %d while %s", k, code, phase)
			}
		}
	}
	if slowest > 5*time.Second {
		t.Errorf("slowest request took %v: requests must fail fast while the database is down", slowest)
	}
}
