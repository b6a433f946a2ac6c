package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"github.com/promolift/promolift/experiments"
)

// GET /metrics serves the Prometheus text exposition of the API instance's
// own registry (never the global default one, so that several instances in
// one process are independent). It needs no API key, like /healthz: it
// holds no secrets, no raw paths and no key ids, only route patterns,
// statuses and counts. Operators who must not expose it set
// Config.DisableMetrics (promolift serve --metrics=false) or keep the port
// off public networks.
//
// The metrics:
//
//	promolift_http_requests_total{route,method,status}       counter
//	promolift_http_request_duration_seconds{route,method}    histogram
//	promolift_http_rate_limited_total                        counter
//	promolift_events_total{status="accepted|duplicate|rejected"} counter
//	promolift_ingest_batch_duration_seconds                  histogram
//	promolift_sdk_config_served_total{result="ok|not_modified"} counter
//	promolift_sdk_config_version_info{environment,etag}      gauge (1 for the current etag)
//	promolift_store_errors_total{op}                         counter
//
// plus the Go runtime (go_*) and process (process_*) collectors. route is
// the gin route pattern (such as /api/v1/experiments/:key), "unmatched"
// when no route matched; op is "METHOD route".
const metricsPath = "/metrics"

func init() { routes = append(routes, Route{"GET", metricsPath, nil, EnvPublic}) }

// ops is the operational state of one API instance: its metrics, the
// rate limiters (ratelimit.go) and the CORS policy (nil when off).
type ops struct {
	m       *metrics
	limiter *rateLimiter
	cors    *cors.Cors
}

func newOps(cfg Config, svc *experiments.Service) ops {
	o := ops{m: newMetrics(svc), limiter: newRateLimiter(cfg)}
	o.cors = newCORS(cfg.CORSOrigins)
	return o
}

// registerOpsRoutes registers GET /metrics unless metrics are disabled.
func (a *api) registerOpsRoutes(r *gin.Engine) {
	if a.cfg.DisableMetrics || a.ops.m == nil {
		return
	}
	h := promhttp.HandlerFor(a.ops.m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	r.GET(metricsPath, gin.WrapH(h))
}

type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited prometheus.Counter
	events      *prometheus.CounterVec
	ingest      prometheus.Histogram
	sdkServed   *prometheus.CounterVec
	sdkVersion  *prometheus.GaugeVec
	storeErrors *prometheus.CounterVec

	mu       sync.Mutex
	sdkETags map[string]string // environment → etag last served
}

// newMetrics returns the metrics of an API over svc (nil: none of the
// Service's own).
func newMetrics(svc *experiments.Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promolift_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "promolift_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "promolift_http_rate_limited_total",
			Help: "Requests refused with 429 by the per-key rate limit.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promolift_events_total",
			Help: "Events received in POST /api/v1/events by outcome: accepted, duplicate or rejected.",
		}, []string{"status"}),
		ingest: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "promolift_ingest_batch_duration_seconds",
			Help:    "Time to store one event batch durably.",
			Buckets: prometheus.DefBuckets,
		}),
		sdkServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promolift_sdk_config_served_total",
			Help: "SDK config snapshots served: ok (full body) or not_modified (304).",
		}, []string{"result"}),
		sdkVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "promolift_sdk_config_version_info",
			Help: "The SDK config version (etag) last served per environment; always 1.",
		}, []string{"environment", "etag"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promolift_store_errors_total",
			Help: "5xx responses caused by store unavailability or internal errors, by operation (METHOD route).",
		}, []string{"op"}),
		sdkETags: map[string]string{},
	}
	for _, s := range []string{"accepted", "duplicate", "rejected"} {
		m.events.WithLabelValues(s)
	}
	for _, r := range []string{"ok", "not_modified"} {
		m.sdkServed.WithLabelValues(r)
	}
	m.reg.MustRegister(m.requests, m.duration, m.rateLimited, m.events, m.ingest, m.sdkServed,
		m.sdkVersion, m.storeErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if svc != nil {
		m.reg.MustRegister(exposureMetrics(svc)...)
	}
	return m
}

// exposureMetrics are the counts of the group commit of exposures and of
// the exposure journal (experiments.ExposureBatchStats), read at each
// scrape.
func exposureMetrics(svc *experiments.Service) []prometheus.Collector {
	counter := func(name, help string, labels prometheus.Labels, v func(experiments.ExposureBatchStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v(svc.ExposureBatches())) })
	}
	batches := "Store transactions of the exposure group commit by result: committed or failed."
	return []prometheus.Collector{
		counter("promolift_exposure_batches_total", batches, prometheus.Labels{"result": "committed"},
			func(s experiments.ExposureBatchStats) int64 { return s.Batches }),
		counter("promolift_exposure_batches_total", batches, prometheus.Labels{"result": "failed"},
			func(s experiments.ExposureBatchStats) int64 { return s.Failed }),
		counter("promolift_exposures_committed_total", "Exposures in committed group-commit transactions.", nil,
			func(s experiments.ExposureBatchStats) int64 { return s.Events }),
		counter("promolift_exposures_skipped_total", "Repeat exposures answered without a transaction (committed recently).", nil,
			func(s experiments.ExposureBatchStats) int64 { return s.Skipped }),
		counter("promolift_exposures_folded_total", "Exposures this server's folds moved from the exposure journal into the events.", nil,
			func(s experiments.ExposureBatchStats) int64 { return s.Folded }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "promolift_exposure_journal_backlog",
			Help: "Exposures this server appended to the exposure journal that are not known folded yet."},
			func() float64 { return float64(svc.ExposureBatches().Backlog) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "promolift_exposure_journal_failing",
			Help: "1 while the exposure journal's fold is failing and exposures are ingested directly, else 0."},
			func() float64 {
				if svc.ExposureBatches().FoldFailing {
					return 1
				}
				return 0
			}),
	}
}

// observe is the middleware that counts and times every request, by route
// pattern (never the raw path), and counts the 5xx caused by store or
// internal errors (those the problem writer records in the context).
func (a *api) observe(c *gin.Context) {
	m := a.ops.m
	if m == nil {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := c.Request.Method
	status := c.Writer.Status()
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	if status >= 500 {
		if _, ok := c.Get(ctxErr); ok {
			m.storeErrors.WithLabelValues(method + " " + route).Inc()
		}
	}
	if status == http.StatusTooManyRequests && c.GetBool(ctxRateLimited) {
		m.rateLimited.Inc()
	}
}

// eventsIngested records one stored batch: how long storing took and the
// outcome counts.
func (o ops) eventsIngested(d time.Duration, accepted, duplicate, rejected int) {
	if o.m == nil {
		return
	}
	o.m.ingest.Observe(d.Seconds())
	o.m.events.WithLabelValues("accepted").Add(float64(accepted))
	o.m.events.WithLabelValues("duplicate").Add(float64(duplicate))
	o.m.events.WithLabelValues("rejected").Add(float64(rejected))
}

// sdkConfigServed records one SDK config reply for env at version etag.
func (o ops) sdkConfigServed(env, etag string, notModified bool) {
	if o.m == nil {
		return
	}
	if notModified {
		o.m.sdkServed.WithLabelValues("not_modified").Inc()
	} else {
		o.m.sdkServed.WithLabelValues("ok").Inc()
	}
	o.m.mu.Lock()
	defer o.m.mu.Unlock()
	if old, ok := o.m.sdkETags[env]; ok {
		if old == etag {
			return
		}
		o.m.sdkVersion.DeleteLabelValues(env, old)
	}
	o.m.sdkETags[env] = etag
	o.m.sdkVersion.WithLabelValues(env, etag).Set(1)
}
