package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

const crashAdminKey = "pl_admin0000_crash-test-secret-0123456789"

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// promoliftBinary builds the promolift binary once per test process.
func promoliftBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "promolift-crash-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "promolift")
		out, err := exec.Command("go", "build", "-o", buildBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// crashPGURL returns the URL of a fresh schema of the test PostgreSQL
// (dropped at the end), skipping without PROMOLIFT_TEST_DATABASE_URL
// unless PROMOLIFT_REQUIRE_POSTGRES=1.
// A key=value DSN is turned into the postgres:// URL serve takes.
func crashPGURL(t *testing.T) string {
	t.Helper()
	u := storetest.PostgresURL(t)
	if isPostgresURL(u) {
		return u
	}
	conv, err := dsnURL(u)
	if err != nil {
		t.Fatalf("PROMOLIFT_TEST_DATABASE_URL: %v", err)
	}
	return conv
}

// dsnURL turns a libpq key=value connection string (values optionally
// single-quoted, with \' and \\ escapes) into a postgres:// URL: host,
// port, user, password and dbname go into the URL's parts, every other
// key (a socket directory as host included) into its query.
func dsnURL(dsn string) (string, error) {
	kv := map[string]string{}
	s := strings.TrimSpace(dsn)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", fmt.Errorf("not a key=value connection string near %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " ")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			i := 1
			for ; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
			}
			if i >= len(s) {
				return "", fmt.Errorf("unterminated quoted value of %s", key)
			}
			s = s[i+1:]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val.WriteString(s[:end])
			s = s[end:]
		}
		kv[key] = val.String()
		s = strings.TrimLeft(s, " ")
	}
	u := &url.URL{Scheme: "postgres", Path: "/" + kv["dbname"]}
	if user, ok := kv["user"]; ok {
		u.User = url.User(user)
		if pw, ok := kv["password"]; ok {
			u.User = url.UserPassword(user, pw)
		}
	}
	q := url.Values{}
	if h := kv["host"]; h != "" && !strings.HasPrefix(h, "/") {
		u.Host = h
		if p := kv["port"]; p != "" {
			u.Host = net.JoinHostPort(h, p)
		}
	} else if h != "" {
		q.Set("host", h)
		if p := kv["port"]; p != "" {
			q.Set("port", p)
		}
	}
	for k, v := range kv {
		switch k {
		case "host", "port", "user", "password", "dbname":
		default:
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// server is one running promolift serve process.
type server struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

var crashListening = regexp.MustCompile(`promolift: listening on (http://\S+)`)

func startProcess(t *testing.T, bin, db string, flags ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--log-level", "error"}, flags...)...)
	cmd.Env = append(os.Environ(), "PROMOLIFT_ADMIN_KEY="+crashAdminKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen bool
		for sc.Scan() {
			if m := crashListening.FindStringSubmatch(sc.Text()); m != nil && !seen {
				seen = true
				found <- m[1]
			}
		}
		_ = cmd.Wait()
		close(s.done)
	}()
	select {
	case s.base = <-found:
	case <-s.done:
		t.Fatal("serve exited before listening")
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not start")
	}
	return s
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not die")
	}
}

// crashClient streams batches and remembers which events the server
// acknowledged.
type crashClient struct {
	mu      sync.Mutex // guards acked for the per-cycle snapshots
	id      int
	next    int
	pending []string // sent or to send, not acknowledged
	acked   map[string]bool
	sent    map[string]bool
}

func (c *crashClient) event(id string, n int) map[string]any {
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	unit := fmt.Sprintf("u%d-%d", c.id, n%97)
	if n%3 == 2 {
		return map[string]any{"event_id": id, "type": "conversion", "unit_id": unit, "timestamp": ts,
			"name": "purchase", "revenue": 1000 + n%7, "currency": "KRW"}
	}
	variant := "control"
	if (n/3)%2 == 1 {
		variant = "ten_off"
	}
	return map[string]any{"event_id": id, "type": "exposure", "unit_id": unit, "timestamp": ts,
		"experiment": "crash", "variant": variant}
}

func eventNumber(id string) int {
	var c, n int
	_, _ = fmt.Sscanf(id, "c%d-e%d", &c, &n)
	return n
}

// assignClient calls POST /api/v1/assign (which logs the exposure) for
// new units, one request at a time, retrying a unit until it is answered
// 200, and remembers the exposure each 200 acknowledged: acknowledged =
// stored, through the group commit of exposures.
type assignClient struct {
	mu      sync.Mutex // guards acked for the per-cycle snapshots
	id      int
	next    int
	pending string            // the unit sent and not yet answered 200
	acked   map[string]string // exposure event ID → unit
	units   map[string]bool   // every unit sent
}

// send assigns the pending unit, or a new one when more is true (every
// fifth request repeats an acknowledged unit: a repeat exposure).
func (c *assignClient) send(hc *http.Client, base string, more bool) error {
	unit := c.pending
	if unit == "" {
		if !more {
			return nil
		}
		c.next++
		unit = fmt.Sprintf("a%d-%d", c.id, c.next)
		if c.next%5 == 0 {
			unit = fmt.Sprintf("a%d-%d", c.id, c.next-3)
		}
		c.pending = unit
	}
	c.units[unit] = true
	data, err := crashPost(hc, base+"/api/v1/assign", []byte(`{"unit_id":"`+unit+`","experiments":["crash"]}`))
	if err != nil {
		return err
	}
	var r struct {
		Assignments []struct {
			Variant      string `json:"variant"`
			InExperiment bool   `json:"in_experiment"`
		} `json:"assignments"`
	}
	if err := json.Unmarshal(data, &r); err != nil || len(r.Assignments) != 1 || !r.Assignments[0].InExperiment {
		return fmt.Errorf("assign %s: %s", unit, data)
	}
	c.mu.Lock()
	c.acked[experiments.ExposureID("crash", 1, unit, r.Assignments[0].Variant, time.Now())] = unit
	c.mu.Unlock()
	c.pending = ""
	return nil
}

// idle reports whether every event sent was acknowledged.
func (c *crashClient) idle() bool { return len(c.pending) == 0 }

// idle reports whether every unit sent was answered 200.
func (c *assignClient) idle() bool { return c.pending == "" }

// crashPost posts body with the admin key and returns the answer of a 200.
func crashPost(hc *http.Client, url string, body []byte) ([]byte, error) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+crashAdminKey)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	return data, nil
}

// exposureIDs are the IDs of every exposure the units sent could have
// stored (either variant; the day before too, for a run across midnight).
func (c *assignClient) exposureIDs() map[string]bool {
	out := map[string]bool{}
	for u := range c.units {
		for _, v := range []string{"control", "ten_off"} {
			for _, at := range []time.Time{time.Now(), time.Now().Add(-24 * time.Hour)} {
				out[experiments.ExposureID("crash", 1, u, v, at)] = true
			}
		}
	}
	return out
}

// send posts one batch (pending events first, then new ones when more
// is true) and records the acknowledgements.
func (c *crashClient) send(hc *http.Client, base string, more bool) error {
	const batch = 40
	ids := append([]string{}, c.pending[:min(len(c.pending), batch)]...)
	for more && len(ids) < batch {
		id := fmt.Sprintf("c%d-e%d", c.id, c.next)
		c.next++
		c.pending = append(c.pending, id)
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	evs := make([]any, len(ids))
	for i, id := range ids {
		evs[i] = c.event(id, eventNumber(id))
		c.sent[id] = true
	}
	body, _ := json.Marshal(map[string]any{"events": evs})
	data, err := crashPost(hc, base+"/api/v1/events", body)
	if err != nil {
		return err
	}
	var r struct {
		Results []struct {
			EventID string `json:"event_id"`
			Status  string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Status == "accepted" || res.Status == "duplicate" {
			c.mu.Lock()
			c.acked[res.EventID] = true
			c.mu.Unlock()
		} else {
			return fmt.Errorf("event %s %s: %s", res.EventID, res.Status, data)
		}
	}
	keep := c.pending[:0]
	for _, id := range c.pending {
		if !c.acked[id] {
			keep = append(keep, id)
		}
	}
	c.pending = keep
	return nil
}

func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary; skipped with -short")
	}
	t.Cleanup(func() {
		if buildBin != "" {
			os.RemoveAll(filepath.Dir(buildBin))
		}
	})
	// --exposure-journal auto: SQLite ingests each exposure batch in full,
	// PostgreSQL appends it to the exposure journal.
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "crash.db")
		runCrash(t, db, "auto", func() (crashStore, error) { return sqlite.Open(context.Background(), db, nil) })
	})
	t.Run("sqlite-journal", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "crash.db")
		runCrash(t, db, "true", func() (crashStore, error) { return sqlite.Open(context.Background(), db, nil) })
	})
	t.Run("postgres", func(t *testing.T) {
		db := crashPGURL(t)
		runCrash(t, db, "auto", func() (crashStore, error) { return postgres.Open(context.Background(), db, nil) })
	})
}

type crashStore interface {
	experiments.Store
	DB() *sqlx.DB
	CheckRollups(ctx context.Context) ([]string, error)
}

func runCrash(t *testing.T, db, journal string, open func() (crashStore, error)) {
	bin := promoliftBinary(t)
	srv := startProcess(t, bin, db, "--exposure-journal", journal)
	defer func() { _ = srv.cmd.Process.Kill() }()
	hc := &http.Client{Timeout: 5 * time.Second}
	post := func(path, body string) {
		req, _ := http.NewRequest("POST", srv.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+crashAdminKey)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
		}
	}
	post("/api/v1/experiments", `{"key": "crash", "variants": [{"key": "control", "weight": 0.5}, {"key": "ten_off", "weight": 0.5}], "primary_metric": "purchase"}`)
	post("/api/v1/experiments/crash/start", "")

	var base atomic.Value
	base.Store(srv.base)
	var stopNew, stopAll atomic.Bool
	var wg sync.WaitGroup
	// run sends with c until everything it sent is acknowledged after
	// stopNew, or stopAll.
	run := func(c interface {
		send(hc *http.Client, base string, more bool) error
		idle() bool
	}) {
		wg.Go(func() {
			hc := &http.Client{Timeout: 5 * time.Second}
			deadline := time.Now().Add(60 * time.Second)
			for !stopAll.Load() && time.Now().Before(deadline) {
				more := !stopNew.Load()
				if !more && c.idle() {
					return
				}
				if err := c.send(hc, base.Load().(string), more); err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	clients := make([]*crashClient, 4)
	for i := range clients {
		clients[i] = &crashClient{id: i, acked: map[string]bool{}, sent: map[string]bool{}}
		run(clients[i])
	}
	assigners := make([]*assignClient, 16)
	for i := range assigners {
		assigners[i] = &assignClient{id: i, acked: map[string]string{}, units: map[string]bool{}}
		run(assigners[i])
	}
	ackedNow := func() (n int) {
		// Read without locks only after the clients stopped; during the
		// run, report the sum from each cycle's snapshot below instead.
		for _, c := range clients {
			n += len(c.acked)
		}
		return n
	}
	const cycles = 5
	for cycle := 1; cycle <= cycles; cycle++ {
		time.Sleep(time.Duration(300+100*cycle) * time.Millisecond)
		srv.kill(t)
		// The process is dead: everything acknowledged so far must be stored.
		var ackedIDs []string
		for _, c := range clients {
			c.mu.Lock()
			for id := range c.acked {
				ackedIDs = append(ackedIDs, id)
			}
			c.mu.Unlock()
		}
		for _, c := range assigners {
			c.mu.Lock()
			for id := range c.acked {
				ackedIDs = append(ackedIDs, id)
			}
			c.mu.Unlock()
		}
		stored := storedEvents(t, open)
		missing := 0
		for _, id := range ackedIDs {
			if stored[id] != 1 {
				missing++
			}
		}
		msg := fmt.Sprintf("cycle %d: SIGKILL; %d acknowledged, %d stored (%d stored but unacknowledged: in flight), %d acknowledged but missing",
			cycle, len(ackedIDs), len(stored), len(stored)-(len(ackedIDs)-missing), missing)
		t.Log(msg)
		if testing.Verbose() {
			fmt.Println(msg)
		}
		if missing > 0 {
			t.Errorf("cycle %d: %d acknowledged events are not stored exactly once", cycle, missing)
		}
		srv = startProcess(t, bin, db, "--exposure-journal", journal)
		base.Store(srv.base)
	}
	time.Sleep(300 * time.Millisecond)
	stopNew.Store(true)
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(40 * time.Second):
		stopAll.Store(true)
		<-waited
		t.Error("clients did not get every event acknowledged in time")
	}
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		srv.kill(t)
	}

	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	stored := countEvents(t, s)
	if n := journalRows(t, s); n != 0 {
		t.Errorf("%d exposure journal rows left after a clean stop; want the server to have folded them", n)
	}
	var acked, sent, lost, dup, phantom int
	for _, c := range clients {
		sent += len(c.sent)
		for id := range c.acked {
			acked++
			switch n := stored[id]; {
			case n == 0:
				lost++
				if lost <= 5 {
					t.Errorf("acknowledged event %s is not stored", id)
				}
			case n > 1:
				dup++
			}
		}
	}
	// The exposures of the assign calls: every one answered 200 stored
	// exactly once; nothing stored for a unit never sent.
	assignIDs := map[string]bool{}
	var ackedExposures, lostExposures int
	for _, c := range assigners {
		for id := range c.exposureIDs() {
			assignIDs[id] = true
		}
		for id, unit := range c.acked {
			ackedExposures++
			if stored[id] != 1 {
				lostExposures++
				if lostExposures <= 5 {
					t.Errorf("the exposure of %s acknowledged with 200 is stored %d times", unit, stored[id])
				}
			}
		}
	}
	for id, n := range stored {
		if n > 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
		if assignIDs[id] {
			continue
		}
		var c, k int
		if _, err := fmt.Sscanf(id, "c%d-e%d", &c, &k); err != nil || c >= len(clients) || !clients[c].sent[id] {
			phantom++
		}
	}
	if lost > 0 || dup > 0 || phantom > 0 {
		t.Errorf("lost %d acknowledged events, %d duplicated, %d stored that were never sent", lost, dup, phantom)
	}
	if ackedExposures == 0 || lostExposures > 0 {
		t.Errorf("%d exposures acknowledged by assign, %d of them not stored exactly once", ackedExposures, lostExposures)
	}
	if acked != ackedNow() || acked+ackedExposures != len(stored) {
		t.Errorf("acknowledged %d events and %d exposures, stored %d: every event and unit was retried until acknowledged, so they must match",
			acked, ackedExposures, len(stored))
	}
	diffs, err := s.CheckRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("rollups differ from a recomputation: %q", diffs)
	}
	s.Close()
	if out, err := exec.Command(bin, "check", "--db", db).CombinedOutput(); err != nil {
		t.Errorf("promolift check after the crashes: %v\n%s", err, out)
	}
	msg := fmt.Sprintf("crash test: %d kill/restart cycles, %d events sent, %d acknowledged, %d exposures acknowledged by assign, %d stored, %d lost, rollup differences %d",
		cycles, sent, acked, ackedExposures, len(stored), lost+lostExposures, len(diffs))
	t.Log(msg)
	if testing.Verbose() {
		fmt.Println(msg)
	}
}

// countEvents counts the stored raw events by id.
func countEvents(t *testing.T, s crashStore) map[string]int {
	t.Helper()
	type row struct {
		ID string `db:"event_id"`
		N  int    `db:"n"`
	}
	var rows []row
	if err := s.DB().SelectContext(context.Background(), &rows, `SELECT event_id, count(*) AS n FROM events GROUP BY event_id`); err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, r := range rows {
		stored[r.ID] = r.N
	}
	return stored
}

// storedEvents opens the store (the server is down), folds its exposure
// journal as the next server will, and counts its events.
func storedEvents(t *testing.T, open func() (crashStore, error)) map[string]int {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := experiments.NewService(s, nil).FoldExposureJournal(context.Background()); err != nil {
		t.Fatal(err)
	}
	return countEvents(t, s)
}

// journalRows counts the rows of the exposure journal.
func journalRows(t *testing.T, s crashStore) (n int) {
	t.Helper()
	if err := s.DB().GetContext(context.Background(), &n, `SELECT COUNT(*) FROM exposure_journal`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDSNURL: a key=value DSN in PROMOLIFT_TEST_DATABASE_URL becomes the
// postgres:// URL serve takes, so the crash test runs instead of skipping.
func TestDSNURL(t *testing.T) {
	cases := []struct{ dsn, want string }{
		{"host=db.example port=5433 user=pl password='se cr\\'et' dbname=promolift sslmode=disable search_path=s1",
			"postgres://pl:se%20cr%27et@db.example:5433/promolift?search_path=s1&sslmode=disable"},
		{"host=/tmp/pg port=5432 dbname=postgres user=postgres sslmode=disable",
			"postgres://postgres@/postgres?host=%2Ftmp%2Fpg&port=5432&sslmode=disable"},
	}
	for _, c := range cases {
		t.Run(c.dsn, func(t *testing.T) {
			got, err := dsnURL(c.dsn)
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if _, err := dsnURL("host='unterminated"); err == nil {
		t.Fatal("an unterminated quote was accepted")
	}
}
