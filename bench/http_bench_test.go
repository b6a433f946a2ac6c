package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/assign"
)

// assignBody is the body both assign handlers decode.
var assignBody = []byte(`{"unit_id": "cust-123456", "attributes": {"country": "KR", "tier": "gold"},
  "experiments": ["spring-sale"], "log_exposure": false}`)

// bareGin is the anchor: a bare gin engine with one route that decodes the
// same JSON, runs the same experiment with package assign and writes a
// JSON answer. No auth, no logging, no store.
func bareGin(b testing.TB) *httptest.Server {
	return fixture(b, "gin-bare", func() (*httptest.Server, error) {
		spec, err := assign.DecodeSpec([]byte(`{"experiments": [{"key": "spring-sale", "seed": "spring-sale", "hashVersion": 2,
  "variations": ["control", "treat1"], "meta": [{"key": "control"}, {"key": "treat1"}], "weights": [0.5, 0.5]}]}`))
		if err != nil {
			return nil, err
		}
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		type req struct {
			UnitID      string         `json:"unit_id"`
			Attributes  map[string]any `json:"attributes"`
			Experiments []string       `json:"experiments"`
			LogExposure *bool          `json:"log_exposure"`
		}
		r.POST("/api/v1/assign", func(c *gin.Context) {
			var q req
			if err := c.ShouldBindJSON(&q); err != nil {
				c.AbortWithStatus(http.StatusBadRequest)
				return
			}
			attrs := assign.Attributes(q.Attributes)
			attrs["id"] = q.UnitID
			out := make([]gin.H, 0, len(q.Experiments))
			for _, k := range q.Experiments {
				res, _ := spec.Run(k, attrs)
				out = append(out, gin.H{"experiment": k, "variant": res.VariantKey, "in_experiment": res.InExperiment})
			}
			c.JSON(http.StatusOK, gin.H{"assignments": out})
		})
		srv := httptest.NewServer(r)
		cleanups = append(cleanups, srv.Close)
		return srv, nil
	})
}

// target is one assign endpoint under test.
type target struct {
	url, token string
	body       func() []byte // nil: assignBody
}

// next returns the body of the next request.
func (t target) next() []byte {
	if t.body == nil {
		return assignBody
	}
	return t.body()
}

// newUnitBodies returns assign bodies for a new unit each call, logging
// the exposure: the path as apps use it (issue 17).
func newUnitBodies(prefix string) func() []byte {
	var n atomic.Int64
	body := assignBodyFor("spring-sale", true)
	return func() []byte { return body(prefix + strconv.FormatInt(n.Add(1), 10)) }
}

func assignTarget(b testing.TB, impl string) target {
	if impl == "gin-bare" {
		return target{url: bareGin(b).URL + "/api/v1/assign"}
	}
	e := sqliteAPI(b)
	return target{url: e.srv.URL + "/api/v1/assign", token: e.sdk}
}

const httpWorkers = 8

// BenchmarkAssignHTTP is closed-loop throughput of POST /api/v1/assign
// over loopback with httpWorkers concurrent clients: promolift's handler
// (auth with an SQLite key lookup, request id, log, decode, Service.Assign
// without exposure logging) against the bare gin handler.
func BenchmarkAssignHTTP(b *testing.B) {
	for _, impl := range []string{"gin-bare", "promolift"} {
		b.Run("impl="+impl, func(b *testing.B) {
			t := assignTarget(b, impl)
			if err := post(t.url, t.token, assignBody); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			n.Store(int64(b.N))
			var wg sync.WaitGroup
			var failed atomic.Value
			b.ResetTimer()
			for w := 0; w < httpWorkers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n.Add(-1) >= 0 {
						if err := post(t.url, t.token, assignBody); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// Phases of BenchmarkAssignLatency.
const (
	latencyWarmup     = 250 * time.Millisecond // closed loop, not counted
	latencySaturation = time.Second            // closed loop: the saturation rate
	latencyOpenLoop   = 3 * time.Second        // open loop at half of it
	latencyMaxPending = 64                     // requests in flight at most in the open loop: httpClient keeps 64 idle connections
)

// BenchmarkAssignLatency measures the tail latency of POST /api/v1/assign
// at half saturation. It first finds the saturation rate with a closed
// loop of httpWorkers clients (after a short warm-up), then sends requests
// open-loop on a fixed schedule at half that rate for latencyOpenLoop and
// reports p50 and p99 of every request's latency, measured from its
// scheduled send time: a request that waits because the server (or the
// sender) fell behind counts its wait, so there is no coordinated
// omission. Every request must succeed. Each request is for a new unit
// and logs its exposure (the group commit of exposures, with its default
// settings). The bare gin anchor is measured the same way in the same run.
// One measurement whatever b.N.
func BenchmarkAssignLatency(b *testing.B) {
	for _, impl := range []string{"gin-bare", "promolift"} {
		b.Run("impl="+impl, func(b *testing.B) {
			t := assignTarget(b, impl)
			t.body = newUnitBodies("lat-" + impl + "-")
			if err := post(t.url, t.token, t.next()); err != nil {
				b.Fatal(err)
			}
			closedLoop(t, latencyWarmup)
			sat, err := closedLoop(t, latencySaturation)
			if err != nil {
				b.Fatal(err)
			}
			lat, lag, sent, err := openLoop(t, sat/2, latencyOpenLoop)
			if err != nil {
				b.Fatal(err)
			}
			p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
			// How late the requests left: part of their latency above, shown
			// apart to tell the sender's delay from the server's.
			b.ReportMetric(float64(percentile(lag, 0.99).Microseconds()), "lag-p99-us")
			b.ReportMetric(sat, "sat-req/s")
			b.ReportMetric(sent, "sent-req/s")
			b.ReportMetric(float64(len(lat)), "requests")
			b.ReportMetric(float64(p50.Microseconds()), "p50-us")
			b.ReportMetric(float64(p99.Microseconds()), "p99-us")
			b.ReportMetric(float64(p99)/float64(max(p50, 1)), "p99/p50")
		})
	}
}

// closedLoop sends requests from httpWorkers clients back to back for d
// and returns the rate of successful ones.
func closedLoop(t target, d time.Duration) (float64, error) {
	var done atomic.Int64
	var failed atomic.Value
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < httpWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := post(t.url, t.token, t.next()); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// openLoop sends requests at a constant rate for d, each at its scheduled
// time t0 + i/rate whatever the answers before it, and returns every
// request's latency from its scheduled time, how late each was sent, and
// the rate the sender achieved. If latencyMaxPending requests are in flight the sender waits;
// the later requests are then late, and their lateness counts.
func openLoop(t target, rate float64, d time.Duration) (lat, lag []time.Duration, sent float64, err error) {
	total := int(rate * d.Seconds())
	if total < 100 {
		return nil, nil, 0, fmt.Errorf("half saturation is %.0f req/s: too few requests for a p99", rate)
	}
	interval := time.Duration(float64(time.Second) / rate)
	lat, lag = make([]time.Duration, total), make([]time.Duration, total)
	var failed atomic.Value
	sem := make(chan struct{}, latencyMaxPending)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < total; i++ {
		at := t0.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, at time.Time) {
			defer func() { <-sem; wg.Done() }()
			lag[i] = time.Since(at)
			if err := post(t.url, t.token, t.next()); err != nil {
				failed.Store(err)
			}
			lat[i] = time.Since(at)
		}(i, at)
	}
	sent = float64(total) / time.Since(t0).Seconds()
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return nil, nil, 0, err
	}
	return lat, lag, sent, nil
}
