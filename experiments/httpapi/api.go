package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/reportsnap"
)

// Config holds the API's limits. Zero fields take their defaults.
type Config struct {
	// MaxBodyBytes caps a request body; default 1 MiB.
	MaxBodyBytes int64
	// MaxBatchEvents caps the events of one POST /api/v1/events; default 1000.
	MaxBatchEvents int
	// ReadyTimeout bounds the store ping of /readyz; default 2 s.
	ReadyTimeout time.Duration
	// DisableMetrics removes GET /metrics (metrics.go).
	DisableMetrics bool
	// RateLimit, when > 0, is each API key's rate in requests per second,
	// and RateBurst its burst (default 2·RateLimit), for every scope not in
	// ScopeRateLimits; 0 leaves DefaultScopeRateLimits (ratelimit.go).
	RateLimit float64
	RateBurst int
	// ScopeRateLimits are the per-key limits of the scopes listed (Rate
	// 0: none). By default sdk keys have none.
	ScopeRateLimits map[experiments.Scope]RateLimit
	// AuthFailureLimit limits the requests with an invalid key per client
	// address; zero takes DefaultAuthFailureLimit, Rate < 0 none.
	AuthFailureLimit RateLimit
	// CORSOrigins are the origins browsers may call from ("*": any); none
	// sends no CORS headers (cors.go, ParseCORSOrigins).
	CORSOrigins []string
	// MaxInflightIngest caps the POST /api/v1/events handled at once
	// (default 4·GOMAXPROCS, at least 16; negative: no limit), and
	// IngestQueueTimeout is how long an excess request waits for a slot
	// before a 503 (default 100 ms) (overload.go).
	MaxInflightIngest  int
	IngestQueueTimeout time.Duration
	// MaxIngestPerKey caps the ingest slots one API key holds at once
	// while a request of another key waits for one (a key alone may use
	// every slot; default half of MaxInflightIngest, at least 1; negative:
	// none), and
	// IngestReadTimeout bounds the reading of an events body, done before
	// a slot is taken (default 5 s) (overload.go).
	MaxIngestPerKey   int
	IngestReadTimeout time.Duration
	// MaxStreamsPerKey caps the GET /api/v1/sdk/stream one API key keeps
	// open at once (default 100; negative: no limit); over it a stream
	// answers 429 stream_limit (sdkapi.go).
	MaxStreamsPerKey int
	// TracerProvider, when set, traces every request with one server span
	// (tracing.go); nil turns tracing off.
	TracerProvider trace.TracerProvider
	// Reports are the report snapshots the report routes answer from
	// (package reportsnap); nil: New makes them over the service with
	// reportsnap's default settings.
	Reports *reportsnap.Snapshots
	// ReportReadLimit paces the report reads (JSON, CSV and the HTML
	// pages) of the whole server: Rate reads per second, bursts of Burst
	// (reportpace.go), each API key at most a quarter of both; zero takes
	// DefaultReportReadLimit, Rate < 0 none. A read over it waits up to
	// ReportReadWait in all (0: DefaultReportReadWait, negative: no wait)
	// for its turn, then answers 503 overloaded.
	ReportReadLimit RateLimit
	ReportReadWait  time.Duration
	// Console, when set, answers every path under /console (package
	// console) after the sign-in of the report pages (consolemount.go).
	Console http.Handler
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxBatchEvents = 1000
	DefaultReadyTimeout   = 2 * time.Second
	// DefaultMaxStreamsPerKey is the default of Config.MaxStreamsPerKey.
	DefaultMaxStreamsPerKey = 100
)

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = DefaultMaxBatchEvents
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.MaxStreamsPerKey == 0 {
		c.MaxStreamsPerKey = DefaultMaxStreamsPerKey
	}
	return c
}

// Keys of values stored on the gin context.
const (
	ctxRequestID = "promolift.request_id"
	ctxPrincipal = "promolift.principal"
	ctxErr       = "promolift.err"
)

type api struct {
	svc *experiments.Service
	cfg Config
	log *slog.Logger
	ops ops // metrics, rate limits, CORS
	// reports answer the report routes from snapshots.
	reports *reportsnap.Snapshots
	// envRules is each route's environment rule by "METHOD pattern".
	envRules map[string]EnvRule
	// streams counts each key's open config streams.
	streams *perKey
	// reads paces the report reads (nil: not paced).
	reads *readPacer
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New returns the HTTP handler of the API over svc. log receives one line
// per request and the details of internal errors; it may be nil.
func New(svc *experiments.Service, cfg Config, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &api{svc: svc, cfg: cfg.withDefaults(), log: log, reports: cfg.Reports, envRules: envRules()}
	a.streams = newPerKey(a.cfg.MaxStreamsPerKey)
	a.reads = newReadPacer(a.cfg)
	if a.reports == nil {
		a.reports = reportsnap.New(svc, reportsnap.Config{}, log)
	}
	a.ops = newOps(a.cfg, svc)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(a.requestID, hsts)
	if tr := newTracing(a.cfg.TracerProvider); tr != nil {
		r.Use(tr)
	}
	r.Use(a.observe, a.logRequests, a.recovery, a.cors, checkParams)
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, &Problem{Status: http.StatusNotFound, Code: "route_not_found",
			Detail: "no such route; docs/api.md lists the routes"}) // the raw path is not echoed
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, &Problem{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Detail: fmt.Sprintf("method %s is not allowed here", c.Request.Method)})
	})

	r.GET("/healthz", a.healthz)
	r.HEAD("/healthz", a.healthz)
	r.GET("/readyz", a.readyz)
	r.HEAD("/readyz", a.readyz)

	admin := a.require(experiments.ScopeAdmin)
	reader := a.require(experiments.ScopeAdmin, experiments.ScopeAnalyst, experiments.ScopeSDK)
	sdk := a.require(experiments.ScopeSDK)

	v1 := r.Group("/api/v1")
	v1.POST("/experiments", admin, a.createExperiment)
	v1.GET("/experiments", reader, a.listExperiments)
	v1.GET("/experiments/:key", reader, a.getExperiment)
	v1.PUT("/experiments/:key", admin, a.updateExperiment)
	for _, act := range []experiments.Action{experiments.ActionStart, experiments.ActionPause,
		experiments.ActionResume, experiments.ActionStop, experiments.ActionArchive} {
		v1.POST("/experiments/:key/"+string(act), admin, a.transition(act))
	}
	v1.POST("/experiments/:key/rerandomize", admin, a.rerandomize)
	a.registerPolicyRoutes(v1) // policy.go

	v1.POST("/flags", admin, a.createFlag)
	v1.GET("/flags", reader, a.listFlags)
	v1.GET("/flags/:key", reader, a.getFlag)
	v1.PUT("/flags/:key", admin, a.updateFlag)
	v1.DELETE("/flags/:key", admin, a.deleteFlag)

	v1.POST("/keys", admin, a.createKey)
	v1.GET("/keys", admin, a.listKeys)
	v1.DELETE("/keys/:id", admin, a.revokeKey)

	v1.GET("/audit", admin, a.listAudit)

	v1.POST("/events", sdk, a.readEventsBody, newIngestLimiter(a.cfg).limit, a.postEvents)
	a.registerSDKRoutes(r)
	a.registerReportRoutes(r)
	a.registerCustomerRoutes(r) // customers.go
	a.registerOpsRoutes(r)
	a.mountConsole(r)              // consolemount.go
	checkRouteRules(r, a.envRules) // environment.go
	return newRawPathRouter(r)     // rawpath.go
}

// Routes lists the API's routes as "METHOD pattern scope", for
// documentation and tests.
func Routes() []Route { return routes }

// Route is one route of the API, the scopes that may call it and how it
// binds to the environment of the caller's key (environment.go). Every
// route the engine serves needs an entry here with its rule.
type Route struct {
	Method, Path string
	Scopes       []experiments.Scope // empty: no authentication
	Env          EnvRule
}

var (
	scopeAdmin  = []experiments.Scope{experiments.ScopeAdmin}
	scopeReader = []experiments.Scope{experiments.ScopeAdmin, experiments.ScopeAnalyst, experiments.ScopeSDK}
	scopeSDK    = []experiments.Scope{experiments.ScopeAdmin, experiments.ScopeSDK}
	routes      = []Route{
		{"GET", "/healthz", nil, EnvPublic},
		{"GET", "/readyz", nil, EnvPublic},
		{"POST", "/api/v1/experiments", scopeAdmin, EnvCaller},
		{"GET", "/api/v1/experiments", scopeReader, EnvCaller},
		{"GET", "/api/v1/experiments/:key", scopeReader, EnvExperiment},
		{"PUT", "/api/v1/experiments/:key", scopeAdmin, EnvExperiment},
		{"POST", "/api/v1/experiments/:key/start", scopeAdmin, EnvExperiment},
		{"POST", "/api/v1/experiments/:key/pause", scopeAdmin, EnvExperiment},
		{"POST", "/api/v1/experiments/:key/resume", scopeAdmin, EnvExperiment},
		{"POST", "/api/v1/experiments/:key/stop", scopeAdmin, EnvExperiment},
		{"POST", "/api/v1/experiments/:key/archive", scopeAdmin, EnvExperiment},
		{"POST", "/api/v1/experiments/:key/rerandomize", scopeAdmin, EnvExperiment},
		{"GET", "/api/v1/experiments/:key/policy", scopeAnalyst, EnvExperiment},
		{"POST", "/api/v1/experiments/:key/policy/experiment", scopeAdmin, EnvExperiment},
		{"POST", "/api/v1/flags", scopeAdmin, EnvCaller},
		{"GET", "/api/v1/flags", scopeReader, EnvCaller},
		{"GET", "/api/v1/flags/:key", scopeReader, EnvFlag},
		{"PUT", "/api/v1/flags/:key", scopeAdmin, EnvFlag},
		{"DELETE", "/api/v1/flags/:key", scopeAdmin, EnvFlag},
		{"POST", "/api/v1/keys", scopeAdmin, EnvCaller},
		{"GET", "/api/v1/keys", scopeAdmin, EnvCaller},
		{"DELETE", "/api/v1/keys/:id", scopeAdmin, EnvKey},
		{"GET", "/api/v1/audit", scopeAdmin, EnvCaller},
		{"POST", "/api/v1/events", scopeSDK, EnvCaller},
		{"GET", ReportDocsPath, nil, EnvPublic},
		{"HEAD", "/healthz", nil, EnvPublic},
		{"HEAD", "/readyz", nil, EnvPublic},
		{"GET", "/experiments", scopeAnalyst, EnvCaller},
		{"GET", "/experiments/:key", scopeAnalyst, EnvExperiment},
	}
)

// hsts tells browsers to use HTTPS only for this host for a year, on
// every answer served over TLS (RFC 6797 ignores it over plain HTTP).
func hsts(c *gin.Context) {
	if c.Request.TLS != nil {
		c.Header("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

// requestID takes X-Request-ID from the request when it is sane, makes
// one otherwise, and echoes it in the response.
func (a *api) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !saneRequestID(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func saneRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == ':') {
			return false
		}
	}
	return true
}

// logRequests logs one line per request: never the raw path (it holds
// keys and ids), headers, query strings or bodies.
func (a *api) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.Int("bytes", c.Writer.Size()),
		slog.String("request_id", c.GetString(ctxRequestID)),
	}
	if p, ok := principal(c); ok {
		attrs = append(attrs, slog.String("key_id", p.KeyID))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
		if err, ok := c.Get(ctxErr); ok {
			attrs = append(attrs, slog.Any("err", err))
		}
	}
	a.log.LogAttrs(c.Request.Context(), level, "request", attrs...)
}

// recovery turns a panic into a 500 problem and logs it with its stack.
func (a *api) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		a.log.Error("panic in handler", "request_id", c.GetString(ctxRequestID), "route", c.FullPath(),
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			writeProblem(c, &Problem{Status: http.StatusInternalServerError, Code: "internal",
				Detail: "an internal error occurred; the request id identifies it in the server log"})
		}
		c.Abort()
	}()
	c.Next()
}

func (a *api) healthz(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.ReadyTimeout)
	defer cancel()
	if err := a.svc.Ping(ctx); err != nil {
		a.log.Warn("readiness check failed", "request_id", c.GetString(ctxRequestID), "err", err)
		writeProblem(c, &Problem{Status: http.StatusServiceUnavailable, Code: "not_ready",
			Detail: "the store does not answer"})
		return
	}
	writeJSON(c, http.StatusOK, map[string]string{"status": "ready"})
}
