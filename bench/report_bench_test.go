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
	reportLoadRun    = 3 * time.Second
	// reportLoadRefresh is the snapshots' minimum interval in the run:
	// a tenth of the default, so that the run holds several background
	// computations (every assign stores an exposure, so the events
	// marker always moves).
	reportLoadRefresh = time.Second
)

// reportEnv is the API over a store holding reportLoadExperiment.
type reportEnv struct {
	base string
	sdk  string
	// analysts are the readers' keys, one per reader as each analyst has
	// their own: the default limit of an analyst key (1,000 requests per
	// second) is per key, and 8 readers back to back on one key can pass it.
	analysts []string
	snaps    *reportsnap.Snapshots
	svc      *experiments.Service
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
	snaps := reportsnap.New(svc, reportsnap.Config{MinInterval: reportLoadRefresh}, nil)
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Config{Reports: snaps}, nil))
	cleanups = append(cleanups, func() { srv.Close(); snaps.Close(); store.Close() })
	return &reportEnv{svc: svc, base: srv.URL, sdk: sdk, analysts: analysts, snaps: snaps}, nil
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

// loop runs workers clients that call do back to back until stop, and
// returns the latency of every call made after from.
func loop(workers int, from, stop time.Time, do func(w, i int) error) ([]time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; time.Now().Before(stop); i++ {
				t := time.Now()
				if err := do(w, i); err != nil {
					failed.Store(err)
					return
				}
				if t.After(from) {
					mine = append(mine, time.Since(t))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	return lat, nil
}

// BenchmarkReportLoad runs, on each store, reportAssigners clients sending
// POST /api/v1/assign (a new customer each request, exposure logged) back
// to back for reportLoadRun after a warm-up, with readers clients reading
// GET /api/v1/experiments/{key}/report (JSON) back to back at the same
// time: readers=0 is assignment alone, readers=8 the same with 8 report
// readers. It reports the p50 and p99 of assign and of the report reads,
// and how many report computations ran. The snapshot exists before the
// run (a first read waits for it), as on a server that has answered the
// report once. One measurement whatever b.N.
func BenchmarkReportLoad(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		for _, readers := range []int{0, reportReaders} {
			b.Run(fmt.Sprintf("store=%s/readers=%d", store, readers), func(b *testing.B) {
				e := reportStore(b, store)
				reportURL := e.base + "/api/v1/experiments/" + reportLoadExperiment + "/report"
				if err := get(reportURL, e.analysts[0]); err != nil {
					b.Fatal(err)
				}
				before := e.snaps.Computations()
				start := time.Now()
				from, stop := start.Add(reportLoadWarmup), start.Add(reportLoadWarmup+reportLoadRun)
				var readLat []time.Duration
				var readErr error
				var wg sync.WaitGroup
				if readers > 0 {
					wg.Go(func() {
						readLat, readErr = loop(readers, from, stop, func(w, _ int) error { return get(reportURL, e.analysts[w]) })
					})
				}
				run := fmt.Sprintf("%d-%d-", readers, start.UnixNano())
				assignLat, err := loop(reportAssigners, from, stop, func(w, i int) error {
					body := fmt.Sprintf(`{"unit_id": "a%s%d-%d", "attributes": {"country": "KR"}, "experiments": [%q], "log_exposure": true}`,
						run, w, i, reportLoadExperiment)
					return post(e.base+"/api/v1/assign", e.sdk, []byte(body))
				})
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				if readErr != nil {
					b.Fatal(readErr)
				}
				b.ReportMetric(float64(len(assignLat))/reportLoadRun.Seconds(), "assign-req/s")
				b.ReportMetric(float64(percentile(assignLat, 0.50).Microseconds()), "assign-p50-us")
				b.ReportMetric(float64(percentile(assignLat, 0.99).Microseconds()), "assign-p99-us")
				b.ReportMetric(float64(e.snaps.Computations()-before), "computations")
				if readers > 0 {
					b.ReportMetric(float64(len(readLat))/reportLoadRun.Seconds(), "read-req/s")
					b.ReportMetric(float64(percentile(readLat, 0.50).Microseconds()), "read-p50-us")
					b.ReportMetric(float64(percentile(readLat, 0.99).Microseconds()), "read-p99-us")
				}
			})
		}
	}
}
