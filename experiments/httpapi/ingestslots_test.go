package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// gateStore holds the ingest of every batch whose first unit id starts
// with "held" until gate is closed, and counts them in entered.
type gateStore struct {
	*sqlite.Store
	gate    chan struct{}
	entered chan struct{}
}

func (s *gateStore) IngestEvents(ctx context.Context, evs []experiments.Event) ([]bool, error) {
	if len(evs) > 0 && strings.HasPrefix(evs[0].UnitID, "held") {
		s.entered <- struct{}{}
		select {
		case <-s.gate:
		case <-ctx.Done():
		}
	}
	return s.Store.IngestEvents(ctx, evs)
}

// ingestServer serves the API over TCP with two SDK keys and a started
// experiment "spring-sale".
func ingestServer(t *testing.T, cfg Config) (srv *httptest.Server, store *gateStore, keyA, keyB string) {
	t.Helper()
	ctx := context.Background()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "slots.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	store = &gateStore{Store: base, gate: make(chan struct{}), entered: make(chan struct{}, 64)}
	svc := experiments.NewService(store, nil)
	if _, _, err := svc.EnsureAdminKey(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	admin := experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
	for _, dst := range []*string{&keyA, &keyB} {
		if _, *dst, err = svc.CreateKey(ctx, admin, "sdk", experiments.ScopeSDK, ""); err != nil {
			t.Fatal(err)
		}
	}
	h := New(svc, cfg, slog.New(slog.DiscardHandler))
	e := &env{t: t, svc: svc, h: h, admin: adminToken}
	e.startedExperiment("spring-sale")
	srv = httptest.NewServer(h)
	t.Cleanup(func() {
		select {
		case <-store.gate:
		default:
			close(store.gate)
		}
		srv.Close()
	})
	return srv, store, keyA, keyB
}

func eventsBody(id, unit string) string {
	return `{"events":[{"event_id":"` + id + `","type":"exposure","unit_id":"` + unit + `","timestamp":"` +
		time.Now().UTC().Format(time.RFC3339) + `","experiment":"spring-sale","variant":"control"}]}`
}

func postBatch(t *testing.T, srv *httptest.Server, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIngestSlowBodiesHoldNoSlot: many POST /api/v1/events from one key
// whose bodies arrive slowly (raw connections that send half a body and
// stall) must not take the ingest slots from another key's batch, and a
// stalled body is answered 408 after the read deadline.
func TestIngestSlowBodiesHoldNoSlot(t *testing.T) {
	srv, _, keyA, keyB := ingestServer(t, Config{MaxInflightIngest: 4, IngestQueueTimeout: 50 * time.Millisecond,
		IngestReadTimeout: time.Second})
	var conns []net.Conn
	for i := range 8 {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		t.Cleanup(func() { conn.Close() })
		body := eventsBody(fmt.Sprintf("slow%d", i), "u")
		half := body[:len(body)/2]
		fmt.Fprintf(conn, "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", keyA, len(body), half)
	}
	// Let the server start on the stalled requests (setup only: the
	// assertions below hold whatever the scheduling).
	time.Sleep(100 * time.Millisecond)
	for i := range 3 {
		if code, body := postBatch(t, srv, keyB, eventsBody(fmt.Sprintf("fast%d", i), "u")); code != http.StatusOK {
			t.Fatalf("another key's batch while slow bodies stall: %d %s, want 200", code, body)
		}
	}
	t.Run("stalled body times out", func(t *testing.T) {
		conn := conns[0]
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("stalled body: %d, want 408", resp.StatusCode)
		}
	})
}

// TestIngestSlotsPerKey: a key alone may use every ingest slot (a shop
// with one SDK key is never held to a share), and while it holds them all,
// another key's waiting batch gets the next slot freed although the busy
// key keeps sending.
func TestIngestSlotsPerKey(t *testing.T) {
	srv, store, keyA, keyB := ingestServer(t, Config{MaxInflightIngest: 4, IngestQueueTimeout: time.Second})
	var wg sync.WaitGroup
	type answer struct {
		who  string
		code int
	}
	answers := make(chan answer, 16)
	post := func(who, key, id, unit string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := postBatch(t, srv, key, eventsBody(id, unit))
			answers <- answer{who, code}
		}()
	}
	for i := range 4 {
		post("held", keyA, fmt.Sprintf("held%d", i), fmt.Sprintf("held%d", i))
	}
	for range 4 {
		select {
		case <-store.entered:
		case <-time.After(20 * time.Second):
			t.Fatal("key A alone did not get every slot: its held batches did not all reach the store")
		}
	}
	// Every slot is taken: key A's next batch waits the queue timeout.
	if code, body := postBatch(t, srv, keyA, eventsBody("a-extra", "u")); code != http.StatusServiceUnavailable {
		t.Errorf("key A with every slot taken: %d %s, want 503", code, body)
	} else if !strings.Contains(body, `"overloaded"`) {
		t.Errorf("503 body %s, want code overloaded", body)
	}
	// Key B waits for a slot while key A keeps sending; the held batches
	// then end, and B's batch is stored.
	post("b", keyB, "b1", "u")
	time.Sleep(100 * time.Millisecond)
	for i := range 6 {
		post("more", keyA, fmt.Sprintf("a-more%d", i), "u")
	}
	time.Sleep(100 * time.Millisecond)
	close(store.gate)
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.who != "more" && a.code != http.StatusOK {
			t.Errorf("%s batch: %d, want 200", a.who, a.code)
		}
	}
	if code, body := postBatch(t, srv, keyA, eventsBody("a-after", "u")); code != http.StatusOK {
		t.Errorf("key A after its batches ended: %d %s, want 200", code, body)
	}
}
