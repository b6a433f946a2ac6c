package bench

import (
	"net/http"
	"net/http/httptest"
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

// BenchmarkAssignLatency first finds the saturation rate (closed loop, 1 s),
// then sends requests open-loop at half that rate for 2 s and reports p50
// and p99 latency (measured from the scheduled send time, so queueing
// counts). One iteration whatever b.N.
func BenchmarkAssignLatency(b *testing.B) {
	for _, impl := range []string{"gin-bare", "promolift"} {
		b.Run("impl="+impl, func(b *testing.B) {
			t := assignTarget(b, impl)
			if err := post(t.url, t.token, assignBody); err != nil {
				b.Fatal(err)
			}
			// Saturation.
			var done atomic.Int64
			stop := time.Now().Add(time.Second)
			var wg sync.WaitGroup
			start := time.Now()
			for w := 0; w < httpWorkers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(stop) {
						if post(t.url, t.token, assignBody) == nil {
							done.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			sat := float64(done.Load()) / time.Since(start).Seconds()
			rate := sat / 2
			interval := time.Duration(float64(time.Second) / rate)
			// Open loop at half saturation.
			total := int(rate * 2)
			lat := make([]time.Duration, total)
			sem := make(chan struct{}, 64)
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
					_ = post(t.url, t.token, assignBody)
					lat[i] = time.Since(at)
				}(i, at)
			}
			wg.Wait()
			p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
			b.ReportMetric(sat, "sat-req/s")
			b.ReportMetric(float64(p50.Microseconds()), "p50-us")
			b.ReportMetric(float64(p99.Microseconds()), "p99-us")
			b.ReportMetric(float64(p99)/float64(max(p50, 1)), "p99/p50")
		})
	}
}
