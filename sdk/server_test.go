package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeServer stands in for promolift: /api/v1/sdk/config with ETag/304,
// /api/v1/sdk/stream (SSE), /api/v1/events (counts every event id).
type fakeServer struct {
	t    testing.TB
	mu   sync.Mutex
	addr string
	srv  *httptest.Server

	config  []byte
	etag    string
	subs    map[chan string]struct{}
	key     string
	fetches int
	notMod  int

	received   map[string]int // event id → times received
	stored     []Event
	eventsFail int // answer this many event posts with 503
	// failed holds the events of each post answered 503, as sent, so that
	// tests can compare a retry's event ids with the first attempt's.
	failed     [][]Event
	rejectType string
	// held, when set, receives each event post that arrives before
	// release is closed, which is answered only once it is.
	held    chan struct{}
	release chan struct{}
}

func newFakeServer(t testing.TB, config string) *fakeServer {
	f := &fakeServer{t: t, key: "sdk-key", subs: map[chan string]struct{}{}, received: map[string]int{}}
	f.setConfig(config)
	f.start("127.0.0.1:0")
	t.Cleanup(f.stop)
	return f
}

func (f *fakeServer) URL() string { return "http://" + f.addr }

func (f *fakeServer) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	s := httptest.NewUnstartedServer(f)
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	f.mu.Lock()
	f.srv = s
	f.mu.Unlock()
}

func (f *fakeServer) stop() {
	f.mu.Lock()
	s := f.srv
	f.srv = nil
	for ch := range f.subs {
		close(ch)
		delete(f.subs, ch)
	}
	f.mu.Unlock()
	if s != nil {
		s.CloseClientConnections()
		s.Close()
	}
}

func (f *fakeServer) restart() { f.start(f.addr) }

func (f *fakeServer) setConfig(cfg string) {
	sum := sha256.Sum256([]byte(cfg))
	f.mu.Lock()
	f.config = []byte(cfg)
	f.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	for ch := range f.subs {
		select {
		case ch <- f.etag:
		default:
		}
	}
	f.mu.Unlock()
}

func (f *fakeServer) storedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stored)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.key {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"unauthorized"}`)
		return
	}
	switch r.URL.Path {
	case ConfigPath:
		f.mu.Lock()
		f.fetches++
		etag, body := f.etag, f.config
		if r.Header.Get("If-None-Match") == etag {
			f.notMod++
			f.mu.Unlock()
			w.WriteHeader(http.StatusNotModified)
			return
		}
		f.mu.Unlock()
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	case StreamPath:
		ch := make(chan string, 4)
		f.mu.Lock()
		f.subs[ch] = struct{}{}
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.subs, ch)
			f.mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		_, _ = io.WriteString(w, ": ping\n\n")
		fl.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case v, ok := <-ch:
				if !ok {
					return
				}
				fmt.Fprintf(w, "event: config\ndata: {\"version\":%q}\n\n", v)
				fl.Flush()
			}
		}
	case EventsPath:
		var req struct {
			Events []Event `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		held, release := f.held, f.release
		f.mu.Unlock()
		if held != nil {
			select {
			case <-release: // released: answer at once
			default:
				held <- struct{}{}
				<-release
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.eventsFail > 0 {
			f.eventsFail--
			f.failed = append(f.failed, req.Events)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		type res struct {
			Index   int    `json:"index"`
			EventID string `json:"event_id"`
			Status  string `json:"status"`
		}
		out := struct {
			Results []res `json:"results"`
		}{}
		for i, e := range req.Events {
			st := "accepted"
			switch {
			case f.rejectType != "" && e.Type == f.rejectType:
				st = "rejected"
			case f.received[e.EventID] > 0:
				st = "duplicate"
			default:
				f.stored = append(f.stored, e)
			}
			f.received[e.EventID]++
			out.Results = append(out.Results, res{i, e.EventID, st})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	default:
		http.NotFound(w, r)
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
