package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The report reads of the whole server share one bucket: past its burst a
// read that may not wait is answered 503 overloaded with Retry-After, on
// every report route and for every key; a read that may wait gets its turn.
func TestReportReadsPaced(t *testing.T) {
	const key = "paced"
	routes := []struct {
		name, path string
		page       bool
	}{
		{"json", "/api/v1/experiments/" + key + "/report", false},
		{"csv", "/api/v1/experiments/" + key + "/report?format=csv", false},
		{"page", "/experiments/" + key, true},
		{"index", "/experiments", true},
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			// One token a thousand seconds: after the burst of 4 (1 for
			// each key) the next read would wait far longer than it may
			// (no wait at all).
			e := newEnv(t, Config{ReportReadLimit: RateLimit{Rate: 0.001, Burst: 4}, ReportReadWait: -1})
			e.startedExperiment(key)
			// A read without a valid key takes no token.
			wantStatus(t, e.do("GET", r.path, "pl_bogus_key", nil), http.StatusUnauthorized)
			// The bucket is the server's, not a key's: four keys share it,
			// and a fifth finds it empty.
			tokens := append([]string{e.analyst, e.admin}, e.analystKeys(3)...)
			for _, tok := range tokens[:4] {
				wantStatus(t, e.do("GET", r.path, tok, nil), http.StatusOK)
			}
			w := e.do("GET", r.path, tokens[4], nil)
			if r.page {
				wantStatus(t, w, http.StatusServiceUnavailable)
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("page over the rate: Content-Type %q, want an HTML page", ct)
				}
			} else if p := problem(t, w, http.StatusServiceUnavailable); p.Code != "overloaded" || !strings.Contains(p.Detail, "on this server") {
				t.Errorf("code %q (%s), want overloaded on this server", p.Code, p.Detail)
			}
			if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After %q, want whole seconds ≥ 1", w.Header().Get("Retry-After"))
			}
			// Other routes are not paced.
			wantStatus(t, e.do("GET", "/api/v1/experiments/"+key, e.analyst, nil), http.StatusOK)
		})
	}
}

// One key reading back to back takes at most its share of the server's
// reads (a quarter), and the other keys still read: the reads over its
// share are refused to it alone.
func TestReportReadsFairAcrossKeys(t *testing.T) {
	const key = "paced"
	path := "/api/v1/experiments/" + key + "/report"
	// A burst of 8 for the server, 2 for each key; no refill to speak of.
	e := newEnv(t, Config{ReportReadLimit: RateLimit{Rate: 0.001, Burst: 8}, ReportReadWait: -1})
	e.startedExperiment(key)
	ok := 0
	for range 20 {
		w := e.do("GET", path, e.analyst, nil)
		if w.Code == http.StatusOK {
			ok++
			continue
		}
		if p := problem(t, w, http.StatusServiceUnavailable); p.Code != "overloaded" || !strings.Contains(p.Detail, "this API key") {
			t.Fatalf("code %q (%s), want overloaded for this API key", p.Code, p.Detail)
		}
	}
	if ok != 2 {
		t.Errorf("the polling key read %d times, want 2 (its share of the burst)", ok)
	}
	for i, tok := range append([]string{e.admin}, e.analystKeys(2)...) {
		for j := range 2 {
			if w := e.do("GET", path, tok, nil); w.Code != http.StatusOK {
				t.Fatalf("key %d, read %d after the poller: %d %s", i, j, w.Code, w.Body)
			}
		}
	}
}

func TestReportReadPacingSettings(t *testing.T) {
	const key = "paced"
	path := "/api/v1/experiments/" + key + "/report"
	t.Run("a read over the rate waits its turn", func(t *testing.T) {
		// 50 reads a second, burst 1: the second read waits about 20 ms,
		// within ReportReadWait.
		e := newEnv(t, Config{ReportReadLimit: RateLimit{Rate: 50, Burst: 1}, ReportReadWait: time.Second})
		e.startedExperiment(key)
		for i := range 3 {
			if w := e.do("GET", path, e.analyst, nil); w.Code != http.StatusOK {
				t.Fatalf("read %d: %d %s", i, w.Code, w.Body)
			}
		}
	})
	t.Run("a client that leaves while waiting", func(t *testing.T) {
		e := newEnv(t, Config{ReportReadLimit: RateLimit{Rate: 0.5, Burst: 1}, ReportReadWait: time.Minute})
		e.startedExperiment(key)
		wantStatus(t, e.do("GET", path, e.analyst, nil), http.StatusOK)
		ctx, cancel := context.WithCancel(context.Background())
		defer time.AfterFunc(20*time.Millisecond, cancel).Stop()
		if w := e.doCtx(ctx, "GET", path, e.analyst, nil); w.Code != statusClientClosed {
			t.Fatalf("status %d, want %d (client closed request)", w.Code, statusClientClosed)
		}
	})
	t.Run("negative rate: not paced", func(t *testing.T) {
		e := newEnv(t, Config{ReportReadLimit: RateLimit{Rate: -1}, ReportReadWait: -1})
		e.startedExperiment(key)
		for i := range 50 {
			if w := e.do("GET", path, e.analyst, nil); w.Code != http.StatusOK {
				t.Fatalf("read %d: %d %s", i, w.Code, w.Body)
			}
		}
	})
	t.Run("defaults", func(t *testing.T) {
		p := newReadPacer(Config{})
		if p == nil || float64(p.bucket.Limit()) != DefaultReportReadLimit.Rate || p.bucket.Burst() != DefaultReportReadLimit.Burst ||
			p.maxWait != DefaultReportReadWait {
			t.Fatalf("default pacer %+v, want %v and wait %v", p, DefaultReportReadLimit, DefaultReportReadWait)
		}
		if want := (RateLimit{Rate: DefaultReportReadLimit.Rate / 4, Burst: DefaultReportReadLimit.Burst / 4}); p.keys.limit != want {
			t.Fatalf("a key's share %+v, want %+v", p.keys.limit, want)
		}
	})
}

// analystKeys creates n more analyst keys and returns their tokens.
func (e *env) analystKeys(n int) []string {
	e.t.Helper()
	out := make([]string, n)
	for i := range out {
		var err error
		if _, out[i], err = e.svc.CreateKey(context.Background(), experiments.Principal{}, fmt.Sprintf("analyst-%d", i),
			experiments.ScopeAnalyst, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}
