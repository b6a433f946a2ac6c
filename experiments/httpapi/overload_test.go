package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// slowStore makes every ingest take a while and counts the concurrent ones.
type slowStore struct {
	*sqlite.Store
	delay          time.Duration
	inflight, peak atomic.Int64
}

func (s *slowStore) IngestEvents(ctx context.Context, evs []experiments.Event) ([]bool, error) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(s.delay)
	return s.Store.IngestEvents(ctx, evs)
}

func TestIngestOverloadSheds(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "overload.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	store := &slowStore{Store: base, delay: 150 * time.Millisecond}
	svc := experiments.NewService(store, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	h := New(svc, Config{MaxInflightIngest: 1, IngestQueueTimeout: 50 * time.Millisecond}, slog.New(slog.DiscardHandler))
	e := &env{t: t, svc: svc, h: h, admin: adminToken}
	e.startedExperiment("spring-sale")

	const clients = 16
	var ok, shed, other atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := `{"events":[{"event_id":"o` + strconv.Itoa(i) + `","type":"exposure","unit_id":"u","timestamp":"` +
				time.Now().UTC().Format(time.RFC3339) + `","experiment":"spring-sale","variant":"control"}]}`
			w := e.do("POST", "/api/v1/events", adminToken, body)
			switch w.Code {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusServiceUnavailable:
				p := problem(t, w, http.StatusServiceUnavailable)
				if p.Code != "overloaded" || w.Header().Get("Retry-After") != "1" {
					t.Errorf("503 %s, Retry-After %q; want overloaded and 1", p.Code, w.Header().Get("Retry-After"))
				}
				shed.Add(1)
			default:
				other.Add(1)
				t.Errorf("status %d: %s", w.Code, w.Body)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d concurrent batches, limit 1: %d accepted, %d shed with 503, peak concurrent ingests %d, %v",
		clients, ok.Load(), shed.Load(), store.peak.Load(), elapsed)
	if ok.Load() == 0 || shed.Load() == 0 {
		t.Errorf("want some batches accepted and some shed, got %d and %d", ok.Load(), shed.Load())
	}
	if p := store.peak.Load(); p > 1 {
		t.Errorf("peak concurrent ingests %d, want at most 1", p)
	}
	// No unbounded queue: a shed request waited at most the queue timeout,
	// so all 16 finish long before 16 × 150 ms of serial ingest.
	if elapsed > time.Duration(clients)*store.delay {
		t.Errorf("took %v: requests queued instead of being shed", elapsed)
	}
	// Once the burst is over, ingest works again.
	wantStatus(t, e.do("POST", "/api/v1/events", adminToken, `{"events":[{"event_id":"after","type":"exposure","unit_id":"u","timestamp":"`+
		time.Now().UTC().Format(time.RFC3339)+`","experiment":"spring-sale","variant":"control"}]}`), 200)
}

func TestIngestLimiterBoundsWaiters(t *testing.T) {
	l := newIngestLimiter(Config{MaxInflightIngest: 2, IngestQueueTimeout: time.Second})
	if cap(l.slots) != 2 || l.maxWait != 2*ingestQueueFactor {
		t.Fatalf("slots %d, max waiting %d", cap(l.slots), l.maxWait)
	}
	if d := newIngestLimiter(Config{}); cap(d.slots) != DefaultMaxInflightIngest() || d.timeout != DefaultIngestQueueTimeout {
		t.Fatalf("defaults: %d slots, %v", cap(d.slots), d.timeout)
	}
	if u := newIngestLimiter(Config{MaxInflightIngest: -1}); u.slots != nil {
		t.Fatal("a negative limit must disable the limiter")
	}
}

// blockingStore holds every ingest until its request goes away.
type blockingStore struct {
	*sqlite.Store
	entered chan struct{}
}

func (s *blockingStore) IngestEvents(ctx context.Context, evs []experiments.Event) ([]bool, error) {
	close(s.entered)
	<-ctx.Done()
	return nil, fmt.Errorf("ingest events: %w", ctx.Err())
}

// TestClientGoneIsNotAServerError: a request whose client disconnects is
// recorded as 499 and logged below error level, not as a 500.
func TestClientGoneIsNotAServerError(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gone.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	store := &blockingStore{Store: base, entered: make(chan struct{})}
	svc := experiments.NewService(store, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := New(svc, Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	e := &env{t: t, svc: svc, h: h, admin: adminToken}
	e.startedExperiment("spring-sale")
	logs.Reset()

	body := `{"events":[{"event_id":"g1","type":"exposure","unit_id":"u","timestamp":"` +
		time.Now().UTC().Format(time.RFC3339) + `","experiment":"spring-sale","variant":"control"}]}`
	reqCtx, cancel := context.WithCancel(ctx)
	r := httptest.NewRequestWithContext(reqCtx, "POST", "/api/v1/events", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+adminToken)
	r.Header.Set("Content-Type", "application/json")
	go func() {
		<-store.entered
		cancel()
	}()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != statusClientClosed {
		t.Fatalf("status %d, want %d: %s", w.Code, statusClientClosed, w.Body)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), `"status":499`) {
		t.Fatalf("log of a request whose client went away:\n%s", logs.String())
	}
}
