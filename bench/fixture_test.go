package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/sqlite"
)

// Fixtures are built once per process and shared by the benchmarks (the
// testing package calls a benchmark function several times while it sizes
// b.N). cleanups run in TestMain after every benchmark.
var (
	fixMu    sync.Mutex
	fixtures = map[string]any{}
	cleanups []func()
	tmpDir   string
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "promolift-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = d
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.RemoveAll(d)
	os.Exit(code)
}

// fixture returns the value built by mk under name, building it once.
func fixture[T any](b testing.TB, name string, mk func() (T, error)) T {
	b.Helper()
	fixMu.Lock()
	defer fixMu.Unlock()
	if v, ok := fixtures[name]; ok {
		return v.(T)
	}
	v, err := mk()
	if err != nil {
		b.Fatalf("fixture %s: %v", name, err)
	}
	fixtures[name] = v
	return v
}

// pgBase returns PROMOLIFT_TEST_DATABASE_URL or skips.
func pgBase(b testing.TB) string {
	u := os.Getenv("PROMOLIFT_TEST_DATABASE_URL")
	if u == "" {
		b.Skip("PROMOLIFT_TEST_DATABASE_URL is not set")
	}
	return u
}

// pgSchemaURL creates a fresh schema (dropped at exit) and returns a URL
// whose search_path is that schema.
func pgSchemaURL(base string) (string, error) {
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	schema := "promolift_bench_" + hex.EncodeToString(buf)
	admin, err := sql.Open("postgres", base)
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + pq.QuoteIdentifier(schema)); err != nil {
		admin.Close()
		return "", err
	}
	cleanups = append(cleanups, func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + pq.QuoteIdentifier(schema) + ` CASCADE`)
		admin.Close()
	})
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return base + " search_path=" + schema, nil
}

// benchStart is the start of the benchmark experiments.
var benchStart = time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)

// newExperiment stores a running experiment key with variants variants,
// started at benchStart.
func newExperiment(ctx context.Context, s experiments.Store, key string, variants int) error {
	return newExperimentAt(ctx, s, key, variants, benchStart)
}

// newExperimentAt stores a running experiment key with variants variants,
// started at start.
func newExperimentAt(ctx context.Context, s experiments.Store, key string, variants int, start time.Time) error {
	e := &experiments.Experiment{Key: key, PrimaryMetric: "purchase", Coverage: 1, CreatedAt: start, UpdatedAt: start}
	for i := 0; i < variants; i++ {
		name := "control"
		if i > 0 {
			name = fmt.Sprintf("treat%d", i)
		}
		e.Variants = append(e.Variants, experiments.Variant{Key: name, Weight: 1 / float64(variants)})
	}
	e.ApplyDefaults()
	e.Status = experiments.StatusRunning
	e.StartedAt = start
	return s.CreateExperiment(ctx, e)
}

// apiEnv is promolift's HTTP API over a store, on a loopback listener.
type apiEnv struct {
	store experiments.Store
	svc   *experiments.Service
	srv   *httptest.Server
	sdk   string // sdk-scope token
}

func newAPIEnv(store experiments.Store) (*apiEnv, error) {
	ctx := context.Background()
	svc := experiments.NewService(store, nil)
	svc.SetConditionChecker(func(doc []byte) error { _, err := assign.ParseCondition(doc); return err })
	_, token, err := svc.CreateKey(ctx, experiments.Principal{}, "bench", experiments.ScopeSDK, "")
	if err != nil {
		return nil, err
	}
	if err := newExperiment(ctx, store, "spring-sale", 2); err != nil {
		return nil, err
	}
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Config{MaxBodyBytes: 8 << 20}, nil))
	cleanups = append(cleanups, func() { srv.Close(); store.Close() })
	return &apiEnv{store: store, svc: svc, srv: srv, sdk: token}, nil
}

func sqliteAPI(b testing.TB) *apiEnv {
	return fixture(b, "api-sqlite", func() (*apiEnv, error) {
		s, err := sqlite.Open(context.Background(), filepath.Join(tmpDir, "api.db"), nil)
		if err != nil {
			return nil, err
		}
		return newAPIEnv(s)
	})
}

func postgresAPI(b testing.TB) *apiEnv { return postgresAPIMonths(b, 0) }

// postgresAPIMonths is postgresAPI on its own schema whose events table
// already has months monthly partitions, ending with this month (none
// when months is 0, as in postgresAPI).
func postgresAPIMonths(b testing.TB, months int) *apiEnv {
	base := pgBase(b)
	name := "api-postgres"
	if months > 0 {
		name = fmt.Sprintf("api-postgres-%dmonths", months)
	}
	return fixture(b, name, func() (*apiEnv, error) {
		u, err := pgSchemaURL(base)
		if err != nil {
			return nil, err
		}
		s, err := postgres.Open(context.Background(), u, nil)
		if err != nil {
			return nil, err
		}
		if months > 0 {
			now := time.Now().UTC()
			if err := s.EnsureEventPartitions(context.Background(), now.AddDate(0, 1-months, 0), now); err != nil {
				s.Close()
				return nil, err
			}
		}
		return newAPIEnv(s)
	})
}

// httpClient is the one client every HTTP benchmark uses.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64,
	IdleConnTimeout: time.Minute}, Timeout: time.Minute}

// post sends body and fails unless the status is 200.
func post(url, token string, body []byte) error {
	return send(http.MethodPost, url, token, body)
}

// send sends a request (a JSON body when body is not nil, the token when
// not empty) and fails unless the status is 200.
func send(method, url, token string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %.200s", method, url, resp.StatusCode, data)
	}
	return nil
}

// eventBatch builds batch events like storetest.BenchmarkIngest: per unit
// one exposure to experiment and three conversions, fresh IDs from *next.
func eventBatch(prefix, experiment string, next *int, batch int) []experiments.Event {
	now := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)
	evs := make([]experiments.Event, 0, batch)
	for len(evs) < batch {
		n := *next
		*next++
		u := fmt.Sprintf("%su%d", prefix, n)
		evs = append(evs, experiments.Event{ID: fmt.Sprintf("%sx%d", prefix, n), Type: experiments.EventExposure,
			UnitID: u, Experiment: experiment, Variant: []string{"control", "treat1"}[n%2], Timestamp: now.Add(-time.Hour),
			Attributes: map[string]string{"country": "KR"}, Channel: "push"})
		for k := 0; k < 3 && len(evs) < batch; k++ {
			evs = append(evs, experiments.Event{ID: fmt.Sprintf("%sc%d-%d", prefix, k, n), Type: experiments.EventConversion,
				UnitID: u, Name: "purchase", Revenue: 1000, Currency: "KRW", Timestamp: now.Add(time.Duration(k) * time.Second)})
		}
	}
	return evs
}

// eventsJSON is the body of POST /api/v1/events for evs.
func eventsJSON(evs []experiments.Event) []byte {
	type dto struct {
		EventID    string            `json:"event_id"`
		Type       string            `json:"type"`
		Experiment string            `json:"experiment,omitempty"`
		Variant    string            `json:"variant,omitempty"`
		UnitID     string            `json:"unit_id"`
		Timestamp  string            `json:"timestamp"`
		Attributes map[string]string `json:"attributes,omitempty"`
		Name       string            `json:"name,omitempty"`
		Revenue    int64             `json:"revenue,omitempty"`
		Currency   string            `json:"currency,omitempty"`
		Channel    string            `json:"channel,omitempty"`
	}
	out := struct {
		Events []dto `json:"events"`
	}{}
	for _, e := range evs {
		out.Events = append(out.Events, dto{EventID: e.ID, Type: string(e.Type), Experiment: e.Experiment, Variant: e.Variant,
			UnitID: e.UnitID, Timestamp: e.Timestamp.Format(time.RFC3339Nano), Attributes: e.Attributes, Name: e.Name,
			Revenue: e.Revenue, Currency: e.Currency, Channel: e.Channel})
	}
	b, _ := json.Marshal(out)
	return b
}

// percentile returns the q-quantile (0..1) of sorted durations.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(q * float64(len(d)-1))
	return d[i]
}
