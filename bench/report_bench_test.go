package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/reportsnap"
	"github.com/promolift/promolift/experiments/sqlite"
)

// The report-load benchmarks: report reads from snapshots while the shop
// assigns customers (issue 17).
const (
	reportLoadExperiment = "report-load"
	// reportLoadUnits are the exposed units of the experiment before the
	// run, each with one conversion in two of three.
	reportLoadUnits = 10_000
	// reportReaders read the report concurrently, back to back.
	reportReaders = 8
	// reportAssigners send POST /api/v1/assign back to back, a new unit
	// each time with its exposure logged.
	reportAssigners  = 8
	reportLoadWarmup = 500 * time.Millisecond
	// reportLoadRun is the measured window: two refresh intervals of the
	// server's default (reportsnap.DefaultMinInterval), so that the
	// readers' run holds the background recomputations as often as a
	// server with default settings makes them (every assign stores an
	// exposure, so the events marker always moves and a read starts a
	// recomputation once the interval has passed): about two.
	reportLoadRun = 2 * reportsnap.DefaultMinInterval
	// reportShortRun is the window under -short: no recomputation falls
	// in it at the default refresh.
	reportShortRun = 3 * time.Second
	// reportStressRefresh is the refresh interval of the stress case, a
	// tenth of the default, and reportStressRun its window: a
	// recomputation runs most of the time, which shows what one costs
	// the assigning requests.
	reportStressRefresh = time.Second
	reportStressRun     = 3 * time.Second
)

// timedSource is the service as the snapshots' source, recording when
// each report computation ran.
type timedSource struct {
	*experiments.Service
	mu    sync.Mutex
	spans []span
}

// span is a time interval.
type span struct{ from, to time.Time }

func (s *timedSource) Report(ctx context.Context, key string, opts experiments.ReportOptions) (*experiments.Report, error) {
	from := time.Now()
	r, err := s.Service.Report(ctx, key, opts)
	s.mu.Lock()
	s.spans = append(s.spans, span{from, time.Now()})
	s.mu.Unlock()
	return r, err
}

// since returns the computations that ended after t.
func (s *timedSource) since(t time.Time) []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []span
	for _, c := range s.spans {
		if c.to.After(t) {
			out = append(out, c)
		}
	}
	return out
}

// reportEnv is the API over a store holding reportLoadExperiment.
type reportEnv struct {
	// base is the server with every setting at its default (that of
	// promolift serve), stressBase the same over snapshots refreshed
	// every reportStressRefresh (stressSnaps).
	base, stressBase string
	sdk              string
	// analysts are the readers' keys, one per reader as each analyst has
	// their own: the default limit of an analyst key (1,000 requests per
	// second) is per key, and 8 readers back to back on one key can pass it.
	analysts           []string
	snaps, stressSnaps *reportsnap.Snapshots
	svc                *experiments.Service
	// src is the snapshots' source, with the times of the computations.
	src *timedSource
}

func newReportEnv(store experiments.Store) (*reportEnv, error) {
	ctx := context.Background()
	svc := experiments.NewService(store, nil)
	_, sdk, err := svc.CreateKey(ctx, experiments.Principal{}, "bench-sdk", experiments.ScopeSDK, "")
	if err != nil {
		return nil, err
	}
	analysts := make([]string, reportReaders)
	for i := range analysts {
		if _, analysts[i], err = svc.CreateKey(ctx, experiments.Principal{}, fmt.Sprintf("bench-analyst-%d", i), experiments.ScopeAnalyst, ""); err != nil {
			return nil, err
		}
	}
	if err := newExperiment(ctx, store, reportLoadExperiment, 2); err != nil {
		return nil, err
	}
	// Every customer is in the experiment, so every assign logs an exposure.
	exp, err := store.GetExperiment(ctx, reportLoadExperiment)
	if err != nil {
		return nil, err
	}
	exp.Coverage = 1
	if err := store.UpdateExperiment(ctx, exp); err != nil {
		return nil, err
	}
	at := time.Now().UTC().Add(-2 * time.Hour)
	var evs []experiments.Event
	for i := 0; i < reportLoadUnits; i++ {
		u := fmt.Sprintf("r%d", i)
		evs = append(evs, experiments.Event{ID: "rx" + u, Type: experiments.EventExposure, UnitID: u,
			Experiment: reportLoadExperiment, Variant: []string{"control", "treat1"}[i%2], Timestamp: at,
			Attributes: map[string]string{"country": []string{"KR", "JP", "US"}[i%3]}, Channel: "push"})
		if i%3 != 0 {
			evs = append(evs, experiments.Event{ID: "rc" + u, Type: experiments.EventConversion, UnitID: u, Name: "purchase",
				Revenue: int64(1000 + i%700), Currency: "KRW", Timestamp: at.Add(time.Minute)})
		}
		if len(evs) >= 1000 || i == reportLoadUnits-1 {
			if _, err := store.IngestEvents(ctx, evs); err != nil {
				return nil, err
			}
			evs = evs[:0]
		}
	}
	// Zero settings are the defaults of promolift serve (its flags'
	// defaults are these packages' defaults): the snapshots' refresh and
	// the pacing of report reads, the rate limits, the exposure batches.
	src := &timedSource{Service: svc}
	snaps := reportsnap.New(src, reportsnap.Config{}, nil)
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Config{Reports: snaps}, nil))
	stressSnaps := reportsnap.New(src, reportsnap.Config{MinInterval: reportStressRefresh}, nil)
	stressSrv := httptest.NewServer(httpapi.New(svc, httpapi.Config{Reports: stressSnaps}, nil))
	cleanups = append(cleanups, func() { srv.Close(); stressSrv.Close(); snaps.Close(); stressSnaps.Close(); store.Close() })
	return &reportEnv{svc: svc, base: srv.URL, stressBase: stressSrv.URL, sdk: sdk, analysts: analysts,
		snaps: snaps, stressSnaps: stressSnaps, src: src}, nil
}

func reportStore(b testing.TB, store string) *reportEnv {
	return fixture(b, "report-"+store, func() (*reportEnv, error) {
		ctx := context.Background()
		switch store {
		case "sqlite":
			s, err := sqlite.Open(ctx, filepath.Join(tmpDir, "report.db"), nil)
			if err != nil {
				return nil, err
			}
			return newReportEnv(s)
		default:
			u, err := pgSchemaURL(pgBase(b))
			if err != nil {
				return nil, err
			}
			s, err := postgres.Open(ctx, u, nil)
			if err != nil {
				return nil, err
			}
			return newReportEnv(s)
		}
	})
}

// get sends GET url with token and fails unless the status is 200.
func get(url, token string) error { return send(http.MethodGet, url, token, nil) }

// sample is one call of loop: when it started and how long it took.
type sample struct {
	at time.Time
	d  time.Duration
}

// loop runs workers clients that call do back to back until stop, and
// returns every call made after from.
func loop(workers int, from, stop time.Time, do func(w, i int) error) ([]sample, error) {
	var mu sync.Mutex
	var out []sample
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			var mine []sample
			for i := 0; time.Now().Before(stop); i++ {
				t := time.Now()
				if err := do(w, i); err != nil {
					failed.Store(err)
					return
				}
				if t.After(from) {
					mine = append(mine, sample{t, time.Since(t)})
				}
			}
			mu.Lock()
			out = append(out, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	return out, nil
}

// durations are the durations of samples, and of those that overlap
// one of spans (during) and of the others (outside).
func durations(samples []sample, spans []span) (all, during, outside []time.Duration) {
	for _, x := range samples {
		all = append(all, x.d)
		end := x.at.Add(x.d)
		overlaps := false
		for _, c := range spans {
			if x.at.Before(c.to) && end.After(c.from) {
				overlaps = true
				break
			}
		}
		if overlaps {
			during = append(during, x.d)
		} else {
			outside = append(outside, x.d)
		}
	}
	return all, during, outside
}

// BenchmarkReportLoad runs, on each store, reportAssigners clients sending
// POST /api/v1/assign (a new customer each request, exposure logged) back
// to back for reportLoadRun after a warm-up, with readers clients reading
// GET /api/v1/experiments/{key}/report (JSON) back to back at the same
// time: readers=0 is assignment alone, readers=8 the same with 8 report
// readers, on a server with promolift serve's default settings. The
// stress case readers=8-refresh=1s recomputes the snapshot ten times as
// often, over a shorter window. Each reports the p50 and p99 of assign
// and of the report reads, how many report computations ran, their mean
// time, and the p99 of the assigns that overlapped one and of the others
// (what a computation costs assignment). The
// snapshot is fresh when the window starts, as on a server that has just
// recomputed it. One measurement whatever b.N.
func BenchmarkReportLoad(b *testing.B) {
	run := reportLoadRun
	if testing.Short() {
		run = reportShortRun
	}
	for _, store := range []string{"sqlite", "postgres"} {
		cases := []struct {
			name    string
			readers int
			stress  bool
			run     time.Duration
		}{
			{"readers=0", 0, false, run},
			{fmt.Sprintf("readers=%d", reportReaders), reportReaders, false, run},
			{fmt.Sprintf("readers=%d-refresh=%v", reportReaders, reportStressRefresh), reportReaders, true, reportStressRun},
		}
		for _, c := range cases {
			b.Run("store="+store+"/"+c.name, func(b *testing.B) {
				e := reportStore(b, store)
				base, snaps := e.base, e.snaps
				if c.stress {
					base, snaps = e.stressBase, e.stressSnaps
				}
				reportLoad(b, e, base, snaps, c.readers, c.run)
			})
		}
	}
}

// reportLoad is one run of BenchmarkReportLoad against the server at base
// answering from snaps.
func reportLoad(b *testing.B, e *reportEnv, base string, snaps *reportsnap.Snapshots, readers int, run time.Duration) {
	reportURL := base + "/api/v1/experiments/" + reportLoadExperiment + "/report"
	// The first read computes the snapshot, or starts its refresh when it
	// is older than the refresh interval: wait for that to end.
	if err := get(reportURL, e.analysts[0]); err != nil {
		b.Fatal(err)
	}
	snaps.Wait()
	before := snaps.Computations()
	start := time.Now()
	from, stop := start.Add(reportLoadWarmup), start.Add(reportLoadWarmup+run)
	var reads []sample
	var readErr error
	var wg sync.WaitGroup
	if readers > 0 {
		wg.Go(func() {
			reads, readErr = loop(readers, from, stop, func(w, _ int) error { return get(reportURL, e.analysts[w]) })
		})
	}
	tag := fmt.Sprintf("%d-%d-", readers, start.UnixNano())
	assigns, err := loop(reportAssigners, from, stop, func(w, i int) error {
		body := fmt.Sprintf(`{"unit_id": "a%s%d-%d", "attributes": {"country": "KR"}, "experiments": [%q], "log_exposure": true}`,
			tag, w, i, reportLoadExperiment)
		return post(base+"/api/v1/assign", e.sdk, []byte(body))
	})
	wg.Wait()
	// A refresh the last reads started ends before the next run.
	snaps.Wait()
	if err != nil {
		b.Fatal(err)
	}
	if readErr != nil {
		b.Fatal(readErr)
	}
	spans := e.src.since(from)
	assignLat, during, outside := durations(assigns, spans)
	b.ReportMetric(float64(len(assignLat))/run.Seconds(), "assign-req/s")
	b.ReportMetric(float64(percentile(assignLat, 0.50).Microseconds()), "assign-p50-us")
	b.ReportMetric(float64(percentile(assignLat, 0.99).Microseconds()), "assign-p99-us")
	b.ReportMetric(float64(snaps.Computations()-before), "computations")
	if readers > 0 {
		readLat, _, _ := durations(reads, nil)
		b.ReportMetric(float64(len(readLat))/run.Seconds(), "read-req/s")
		b.ReportMetric(float64(percentile(readLat, 0.50).Microseconds()), "read-p50-us")
		b.ReportMetric(float64(percentile(readLat, 0.99).Microseconds()), "read-p99-us")
	}
	if len(spans) > 0 {
		var busy time.Duration
		for _, c := range spans {
			busy += c.to.Sub(c.from)
		}
		b.ReportMetric(float64(busy.Milliseconds())/float64(len(spans)), "computation-ms")
		b.ReportMetric(float64(percentile(during, 0.99).Microseconds()), "assign-p99-computing-us")
		b.ReportMetric(float64(percentile(outside, 0.99).Microseconds()), "assign-p99-between-us")
	}
}
