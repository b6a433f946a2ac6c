package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/banditrun"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/reportsnap"
	"github.com/promolift/promolift/experiments/sqlite"
)

// getenv reads the environment; tests may replace it.
var getenv = os.Getenv

// The environment variables. A flag given on the command line wins over
// its variable, which wins over the default.
const (
	envAddr            = "PROMOLIFT_ADDR"
	envDatabaseURL     = "PROMOLIFT_DATABASE_URL"
	envAdminKey        = "PROMOLIFT_ADMIN_KEY"
	envLogLevel        = "PROMOLIFT_LOG_LEVEL"
	envLogFormat       = "PROMOLIFT_LOG_FORMAT"
	envMaxBodyBytes    = "PROMOLIFT_MAX_BODY_BYTES"
	envMaxBatchEvents  = "PROMOLIFT_MAX_BATCH_EVENTS"
	envMaxInflight     = "PROMOLIFT_MAX_INFLIGHT_INGEST"
	envMaxStreams      = "PROMOLIFT_MAX_STREAMS_PER_KEY"
	envMaxIngestPerKey = "PROMOLIFT_MAX_INGEST_PER_KEY"
	envIngestReadTO    = "PROMOLIFT_INGEST_READ_TIMEOUT"
	envExposureBatch   = "PROMOLIFT_EXPOSURE_BATCH_EVENTS"
	envExposureWait    = "PROMOLIFT_EXPOSURE_BATCH_WAIT"
	envExposureLanes   = "PROMOLIFT_EXPOSURE_LANES"
	envExposureJournal = "PROMOLIFT_EXPOSURE_JOURNAL"
	envReadTimeout     = "PROMOLIFT_READ_TIMEOUT"
	envWriteTimeout    = "PROMOLIFT_WRITE_TIMEOUT"
	envIdleTimeout     = "PROMOLIFT_IDLE_TIMEOUT"
	envShutdownTimeout = "PROMOLIFT_SHUTDOWN_TIMEOUT"
	envTLSCert         = "PROMOLIFT_TLS_CERT"
	envTLSKey          = "PROMOLIFT_TLS_KEY"
	envMetrics         = "PROMOLIFT_METRICS"
	envRateLimit       = "PROMOLIFT_RATE_LIMIT"
	envRateBurst       = "PROMOLIFT_RATE_BURST"
	envCORSOrigins     = "PROMOLIFT_CORS_ORIGINS"
	envOTelEndpoint    = "PROMOLIFT_OTEL_ENDPOINT"
	envOTelSampleRatio = "PROMOLIFT_OTEL_SAMPLE_RATIO"
	envReportRefresh   = "PROMOLIFT_REPORT_REFRESH"
	envReportMaxAge    = "PROMOLIFT_REPORT_MAX_AGE"
	envReportSnapshots = "PROMOLIFT_REPORT_SNAPSHOTS"
	envReportReadRate  = "PROMOLIFT_REPORT_READ_RATE"
)

// defaultDB is the SQLite file used when no database is configured.
const defaultDB = "promolift.db"

// option is one setting read from a flag or its environment variable.
type option struct {
	flag, env, def, usage string
	kind                  string // the value's type in the help: string, int, number, duration, bool
	value                 string // the flag's raw value
	fromFlag              bool
}

// options is a set of options registered on one FlagSet.
type options struct {
	fs   *flag.FlagSet
	list []*option
}

func newOptions(name string, stderr io.Writer) *options {
	fs := flag.NewFlagSet("promolift "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &options{fs: fs}
}

// add registers --name, a string, with its environment variable and
// default.
func (o *options) add(name, env, def, usage string) *option {
	return o.addKind("string", name, env, def, usage)
}

// addInt, addNumber, addDuration and addBool register an option whose
// value is read as that type; the help names the type.
func (o *options) addInt(name, env, def, usage string) *option {
	return o.addKind("int", name, env, def, usage)
}

func (o *options) addNumber(name, env, def, usage string) *option {
	return o.addKind("number", name, env, def, usage)
}

func (o *options) addDuration(name, env, def, usage string) *option {
	return o.addKind("duration", name, env, def, usage)
}

func (o *options) addBool(name, env, def, usage string) *option {
	return o.addKind("bool", name, env, def, usage)
}

func (o *options) addKind(kind, name, env, def, usage string) *option {
	opt := &option{flag: name, env: env, def: def, usage: usage, kind: kind}
	help := usage
	if env != "" {
		help += " (env " + env + ")"
	}
	o.fs.StringVar(&opt.value, name, def, help)
	o.list = append(o.list, opt)
	return opt
}

// printDefaults prints the flags as flag.PrintDefaults does, but names
// each option's own type (int, number, duration, bool) where the flag
// package, which holds them all as strings, would say "string".
func (o *options) printDefaults() {
	kinds := make(map[string]string, len(o.list))
	for _, opt := range o.list {
		kinds[opt.flag] = opt.kind
	}
	w := o.fs.Output()
	o.fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		if k, ok := kinds[f.Name]; ok {
			typ = k
		}
		line := "  -" + f.Name
		if typ != "" {
			line += " " + typ
		}
		usage = strings.ReplaceAll(usage, "\n", "\n    \t")
		line += "\n    \t" + usage
		switch {
		case f.DefValue == "" || typ == "" && f.DefValue == "false":
		case typ == "string":
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			line += " (default " + f.DefValue + ")"
		}
		fmt.Fprintln(w, line)
	})
}

// parse parses args and resolves every option: flag, then environment,
// then default. Flags and positional arguments may be mixed; the
// positional ones are returned.
func (o *options) parse(args []string) ([]string, error) {
	var rest []string
	for {
		if err := o.fs.Parse(args); err != nil {
			return nil, err
		}
		args = o.fs.Args()
		if len(args) == 0 {
			break
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	o.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, opt := range o.list {
		opt.fromFlag = set[opt.flag]
		if !opt.fromFlag {
			opt.value = opt.def
			if opt.env != "" {
				if v := getenv(opt.env); v != "" {
					opt.value = v
				}
			}
		}
	}
	return rest, nil
}

// name names the option in messages: "--max-body-bytes (PROMOLIFT_MAX_BODY_BYTES)".
func (opt *option) name() string {
	if opt.env == "" {
		return "--" + opt.flag
	}
	if opt.fromFlag {
		return "--" + opt.flag
	}
	return "--" + opt.flag + " / " + opt.env
}

func (opt *option) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid %s %q: %s", opt.name(), opt.value, fmt.Sprintf(format, args...))
}

func (opt *option) int64(min, max int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(opt.value), 10, 64)
	if err != nil || n < min || n > max {
		return 0, opt.errorf("must be an integer between %d and %d", min, max)
	}
	return n, nil
}

func (opt *option) duration() (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(opt.value))
	if err != nil || d <= 0 {
		return 0, opt.errorf("must be a positive duration such as 30s or 2m")
	}
	return d, nil
}

// serveConfig is the configuration of promolift serve.
type serveConfig struct {
	Addr            string
	DB              string
	LogLevel        slog.Level
	LogFormat       string
	MaxBodyBytes    int64
	MaxBatchEvents  int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	TLSCert         string
	TLSKey          string
	AdminKey        string  // PROMOLIFT_ADMIN_KEY, checked for form before anything is opened
	Metrics         bool    // serve GET /metrics
	RateLimit       float64 // per API key of every scope, requests per second; 0: the scope limits
	RateBurst       int     // per API key
	// ScopeRateLimits are the per-key limits of each scope (Rate 0: none).
	ScopeRateLimits map[experiments.Scope]httpapi.RateLimit
	// AuthFailureRate limits requests with an invalid key per client
	// address, per second (0: none).
	AuthFailureRate float64
	CORSOrigins     []string // nil: no CORS

	// MaxInflightIngest caps concurrent event batches (0: the default,
	// -1: no limit); excess ones get 503 after a short wait.
	MaxInflightIngest int
	// MaxIngestPerKey caps the slots one key holds (0: half of them,
	// -1: no bound); IngestReadTimeout bounds the read of an events body,
	// done before a slot is taken.
	MaxIngestPerKey   int
	IngestReadTimeout time.Duration
	// MaxStreamsPerKey caps the config streams one key keeps open (0: the
	// default, -1: no limit).
	MaxStreamsPerKey int

	// ExposureBatchEvents and ExposureBatchWait bound the group commit of
	// exposures (experiments.Service.SetExposureBatching).
	ExposureBatchEvents int
	ExposureBatchWait   time.Duration
	// ExposureLanes is 1 (one exposure batch in flight, the default) or 0
	// (one per lane of the store; experiments.Service.SetExposureLanes).
	ExposureLanes int
	// ExposureJournal appends exposure batches to the store's journal and
	// folds them in the background (experiments.Service.SetExposureJournal;
	// --exposure-journal auto: on PostgreSQL).
	ExposureJournal bool

	// OTelEndpoint is the OTLP/HTTP URL traces are posted to ("": tracing
	// off), OTelSampleRatio the share of new traces sampled (tracing.go).
	OTelEndpoint    string
	OTelSampleRatio float64

	// PprofAddr is the separate address of the profiling endpoints ("":
	// off; pprof.go).
	PprofAddr string

	// Reports configures the report snapshots (package reportsnap).
	Reports reportsnap.Config
	// ReportReadRate paces the report reads of the whole server, reads
	// per second (0: none; httpapi.Config.ReportReadLimit).
	ReportReadRate float64

	// BanditInterval is the time between two passes of the bandit
	// updater (package banditrun).
	BanditInterval time.Duration
}

// logOptions are the logging options every subcommand has.
type logOptions struct{ level, format *option }

func addLogOptions(o *options) logOptions {
	return logOptions{
		level:  o.add("log-level", envLogLevel, "info", "log level: debug, info, warn or error"),
		format: o.add("log-format", envLogFormat, "json", "log format: json or text"),
	}
}

func (l logOptions) resolve() (slog.Level, string, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level.value)); err != nil {
		return 0, "", l.level.errorf("must be debug, info, warn or error")
	}
	switch l.format.value {
	case "json", "text":
	default:
		return 0, "", l.format.errorf("must be json or text")
	}
	return level, l.format.value, nil
}

func addDBOption(o *options) *option {
	return o.add("db", envDatabaseURL, defaultDB,
		"database: a SQLite file path, or a postgres:// or postgresql:// URL")
}

// parseServeConfig reads the flags of serve and their environment
// variables, and validates them all at once.
func parseServeConfig(args []string, stderr io.Writer) (*serveConfig, error) {
	o := newOptions("serve", stderr)
	addr := o.add("addr", envAddr, "127.0.0.1:8080", "address to listen on (host:port; use :8080 to listen on every interface)")
	db := addDBOption(o)
	logs := addLogOptions(o)
	maxBody := o.addInt("max-body-bytes", envMaxBodyBytes, "1048576", "largest request body in bytes")
	maxBatch := o.addInt("max-batch-events", envMaxBatchEvents, "1000", "most events in one POST /api/v1/events")
	maxInflight := o.addInt("max-inflight-ingest", envMaxInflight, "0",
		"most POST /api/v1/events handled at once; excess ones wait 100ms, then get 503 (0: 4×GOMAXPROCS, at least 16; -1: no limit)")
	maxPerKey := o.addInt("max-ingest-per-key", envMaxIngestPerKey, "0",
		"most POST /api/v1/events one API key has handled at once while another key's batch waits for a slot; a key alone may use every slot (0: half of --max-inflight-ingest, at least 1; -1: no bound)")
	ingestReadTO := o.addDuration("ingest-read-timeout", envIngestReadTO, "5s",
		"how long the body of a POST /api/v1/events may take to arrive, read before an ingest slot is taken (408 past it)")
	maxStreams := o.addInt("max-streams-per-key", envMaxStreams, strconv.Itoa(httpapi.DefaultMaxStreamsPerKey),
		"most GET /api/v1/sdk/stream one API key keeps open at once; past it a stream gets 429 (-1: no limit)")
	expBatch := o.addInt("exposure-batch-events", envExposureBatch, strconv.Itoa(experiments.DefaultExposureBatchEvents),
		"most exposures (of concurrent assign and OFREP requests) committed in one store transaction")
	expWait := o.addDuration("exposure-batch-wait", envExposureWait, experiments.DefaultExposureBatchWait.String(),
		"longest an assign or OFREP request waits for more exposures to share its store transaction (0: none)")
	expLanes := o.addInt("exposure-lanes", envExposureLanes, strconv.Itoa(experiments.DefaultExposureLanes),
		"exposure batches in flight: 1, one at a time (the least CPU per exposure); 0, one per lane of the store (PostgreSQL: 2), so that a batch waiting on a row lock holds up only its lane's requests")
	expJournal := o.add("exposure-journal", envExposureJournal, "auto",
		"true: commit each exposure batch to a journal and answer, folding the journal into the events and rollups in the background, thousands at a time; false: ingest each batch in full before answering; auto: true on PostgreSQL, false on SQLite (one writer: the fold would hold up the batches)")
	readTO := o.addDuration("read-timeout", envReadTimeout, "30s", "HTTP read timeout")
	writeTO := o.addDuration("write-timeout", envWriteTimeout, "60s", "HTTP write timeout")
	idleTO := o.addDuration("idle-timeout", envIdleTimeout, "120s", "HTTP keep-alive idle timeout")
	shutTO := o.addDuration("shutdown-timeout", envShutdownTimeout, "15s", "how long in-flight requests may run after SIGINT/SIGTERM")
	cert := o.add("tls-cert", envTLSCert, "", "TLS certificate file (PEM); with --tls-key serves HTTPS")
	key := o.add("tls-key", envTLSKey, "", "TLS private key file (PEM); with --tls-cert serves HTTPS")
	metrics := o.addBool("metrics", envMetrics, "true", "serve Prometheus metrics at GET /metrics, without an API key (false to disable)")
	rateLimit := o.addNumber("rate-limit", envRateLimit, "0", "requests per second allowed to each API key of every scope, overriding the scope limits (0: the scope limits below)")
	rateBurst := o.addInt("rate-burst", envRateBurst, "2000", "burst of requests allowed to each API key above --rate-limit")
	scopeRates := map[experiments.Scope]*option{}
	for _, s := range []experiments.Scope{experiments.ScopeSDK, experiments.ScopeAdmin, experiments.ScopeAnalyst} {
		def := httpapi.DefaultScopeRateLimits[s].Rate
		scopeRates[s] = o.addNumber("rate-limit-"+string(s), "PROMOLIFT_RATE_LIMIT_"+strings.ToUpper(string(s)), strconv.FormatFloat(def, 'g', -1, 64),
			"requests per second allowed to each API key of scope "+string(s)+", bursts of twice that (0: no limit)")
	}
	authFail := o.addNumber("auth-failure-limit", "PROMOLIFT_AUTH_FAILURE_LIMIT", strconv.FormatFloat(httpapi.DefaultAuthFailureLimit.Rate, 'g', -1, 64),
		"requests per second with an invalid API key allowed to each client address, bursts of ten times that (0: no limit); valid keys are never counted")
	corsOrigins := o.add("cors-origins", envCORSOrigins, "", "comma-separated origins browsers may call the API from, such as https://shop.example.com, or * for any (default: no CORS)")
	tracing := addTracingOptions(o)
	prof := addPprofOptions(o)
	reports := addReportOptions(o)
	banditEvery := o.addDuration("bandit-interval", "PROMOLIFT_BANDIT_INTERVAL", banditrun.DefaultInterval.String(),
		"time between two passes of the bandit updater, which moves a bandit experiment's weights once its period boundary passed (docs/bandit.md)")
	o.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: promolift serve [flags]")
		fmt.Fprintln(stderr, "\nRuns the HTTP API. The admin key is taken from "+envAdminKey+" or generated and printed once.")
		fmt.Fprintln(stderr, "Go profiles (heap, goroutines, CPU) are off unless --pprof-addr names a separate loopback address.")
		fmt.Fprintln(stderr, "\nflags:")
		o.printDefaults()
	}
	rest, err := o.parse(args)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected argument %q (serve takes only flags)", rest[0])
	}
	cfg := &serveConfig{Addr: strings.TrimSpace(addr.value), DB: strings.TrimSpace(db.value),
		TLSCert: cert.value, TLSKey: key.value}
	var errs []error
	if _, port, err := net.SplitHostPort(cfg.Addr); err != nil {
		errs = append(errs, addr.errorf("must be host:port, such as 127.0.0.1:8080 or :8080"))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, addr.errorf("the port must be a number between 0 and 65535"))
	}
	if cfg.DB == "" {
		errs = append(errs, db.errorf("must not be empty"))
	}
	var lerr error
	cfg.LogLevel, cfg.LogFormat, lerr = logs.resolve()
	errs = append(errs, lerr)
	var e1, e2 error
	cfg.MaxBodyBytes, e1 = maxBody.int64(1024, 1<<30)
	n, e2 := maxBatch.int64(1, 100000)
	cfg.MaxBatchEvents = int(n)
	errs = append(errs, e1, e2)
	inflight, e3 := maxInflight.int64(-1, 100000)
	cfg.MaxInflightIngest = int(inflight)
	errs = append(errs, e3)
	perKey, e6 := maxPerKey.int64(-1, 100000)
	cfg.MaxIngestPerKey = int(perKey)
	errs = append(errs, e6)
	streams, e5 := maxStreams.int64(-1, 1000000)
	cfg.MaxStreamsPerKey = int(streams)
	errs = append(errs, e5)
	eb, e4 := expBatch.int64(1, experiments.MaxExposureBatchEvents)
	cfg.ExposureBatchEvents = int(eb)
	errs = append(errs, e4)
	lanes, e7 := expLanes.int64(0, 1)
	cfg.ExposureLanes = int(lanes)
	errs = append(errs, e7)
	if w, err := time.ParseDuration(strings.TrimSpace(expWait.value)); err != nil || w < 0 || w > time.Second {
		errs = append(errs, expWait.errorf("must be a duration from 0 to 1s, such as 1ms"))
	} else {
		cfg.ExposureBatchWait = w
	}
	for _, d := range []struct {
		opt *option
		dst *time.Duration
	}{{readTO, &cfg.ReadTimeout}, {writeTO, &cfg.WriteTimeout}, {idleTO, &cfg.IdleTimeout}, {shutTO, &cfg.ShutdownTimeout}, {ingestReadTO, &cfg.IngestReadTimeout}} {
		var err error
		*d.dst, err = d.opt.duration()
		errs = append(errs, err)
	}
	if cfg.AdminKey = getenv(envAdminKey); cfg.AdminKey != "" {
		errs = append(errs, experiments.CheckToken(cfg.AdminKey))
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert ("+envTLSCert+") and --tls-key ("+envTLSKey+") must be given together"))
	}
	var mErr, rErr, cErr error
	if cfg.Metrics, mErr = strconv.ParseBool(strings.TrimSpace(metrics.value)); mErr != nil {
		errs = append(errs, metrics.errorf("must be true or false"))
	}
	switch v := strings.TrimSpace(expJournal.value); v {
	case "auto":
		cfg.ExposureJournal = isPostgresURL(cfg.DB)
	default:
		var jErr error
		if cfg.ExposureJournal, jErr = strconv.ParseBool(v); jErr != nil {
			errs = append(errs, expJournal.errorf("must be auto, true or false"))
		}
	}
	if cfg.RateLimit, rErr = strconv.ParseFloat(strings.TrimSpace(rateLimit.value), 64); rErr != nil || !(cfg.RateLimit >= 0 && cfg.RateLimit <= 1e6) {
		errs = append(errs, rateLimit.errorf("must be a number of requests per second between 0 (no limit) and 1000000"))
	}
	burst, bErr := rateBurst.int64(1, 10_000_000)
	cfg.RateBurst = int(burst)
	cfg.ScopeRateLimits = map[experiments.Scope]httpapi.RateLimit{}
	for s, opt := range scopeRates {
		r, err := strconv.ParseFloat(strings.TrimSpace(opt.value), 64)
		if err != nil || !(r >= 0 && r <= 1e6) {
			errs = append(errs, opt.errorf("must be a number of requests per second between 0 (no limit) and 1000000"))
			continue
		}
		if cfg.RateLimit > 0 && opt.value == opt.def {
			continue // --rate-limit applies
		}
		cfg.ScopeRateLimits[s] = httpapi.RateLimit{Rate: r}
	}
	if r, err := strconv.ParseFloat(strings.TrimSpace(authFail.value), 64); err != nil || !(r >= 0 && r <= 1e6) {
		errs = append(errs, authFail.errorf("must be a number of requests per second between 0 (no limit) and 1000000"))
	} else {
		cfg.AuthFailureRate = r
	}
	if cfg.CORSOrigins, cErr = httpapi.ParseCORSOrigins(corsOrigins.value); cErr != nil {
		errs = append(errs, corsOrigins.errorf("%v", cErr))
	}
	errs = append(errs, bErr)
	var tErr error
	cfg.OTelEndpoint, cfg.OTelSampleRatio, tErr = tracing.resolve()
	errs = append(errs, tErr)
	var pErr error
	cfg.PprofAddr, pErr = prof.resolve()
	errs = append(errs, pErr)
	var repErr error
	cfg.Reports, repErr = reports.resolve()
	errs = append(errs, repErr)
	if r, err := strconv.ParseFloat(strings.TrimSpace(reports.readRate.value), 64); err != nil || !(r >= 0 && r <= 1e6) {
		errs = append(errs, reports.readRate.errorf("must be a number of reads per second between 0 (no limit) and 1000000"))
	} else {
		cfg.ReportReadRate = r
	}
	var bErr2 error
	if cfg.BanditInterval, bErr2 = banditEvery.duration(); bErr2 == nil && cfg.BanditInterval <= 0 {
		bErr2 = banditEvery.errorf("must be positive")
	}
	errs = append(errs, bErr2)
	return cfg, errors.Join(errs...)
}

// reportOptions are serve's settings of the report snapshots.
type reportOptions struct{ refresh, maxAge, size, readRate *option }

func addReportOptions(o *options) reportOptions {
	return reportOptions{
		refresh: o.addDuration("report-refresh", envReportRefresh, reportsnap.DefaultMinInterval.String(),
			"least time between two recomputations of one experiment's report snapshot; reads in between answer from the snapshot"),
		maxAge: o.addDuration("report-max-age", envReportMaxAge, reportsnap.DefaultMaxAge.String(),
			"age past which a report snapshot being read is recomputed even when this server stored no new events (events sent to other replicas)"),
		size: o.addInt("report-snapshots", envReportSnapshots, fmt.Sprint(reportsnap.DefaultSize),
			"most report snapshots kept in memory (least recently read dropped first)"),
		readRate: o.addNumber("report-read-rate", envReportReadRate, strconv.FormatFloat(httpapi.DefaultReportReadLimit.Rate, 'g', -1, 64),
			"report reads (JSON, CSV, HTML pages) the whole server answers per second, each API key at most a quarter of them, so that polling readers never take the CPU from assignment nor crowd out each other; a read over it waits its turn up to 1s, then gets 503 (0: no limit)"),
	}
}

func (r reportOptions) resolve() (reportsnap.Config, error) {
	var c reportsnap.Config
	var e1, e2 error
	c.MinInterval, e1 = r.refresh.duration()
	c.MaxAge, e2 = r.maxAge.duration()
	n, e3 := r.size.int64(1, 1_000_000)
	c.Size = int(n)
	return c, errors.Join(e1, e2, e3)
}

// newLogger returns the process logger, writing to w.
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isPostgresURL reports whether db names a PostgreSQL database.
func isPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// describeDB describes the database for logs and messages without
// credentials: the SQLite path, or the PostgreSQL host and database.
func describeDB(db string) string {
	if !isPostgresURL(db) {
		return "sqlite:" + db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres (unparsable URL)"
	}
	return "postgres://" + u.Host + u.Path
}

// openStore opens the store named by db (applying pending migrations):
// PostgreSQL for a postgres:// or postgresql:// URL, otherwise the SQLite
// file at that path (an optional "sqlite:" prefix is dropped).
func openStore(ctx context.Context, db string, log *slog.Logger) (experiments.Store, error) {
	if isPostgresURL(db) {
		return openPostgres(ctx, db, log)
	}
	return openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(db, "sqlite://"), "sqlite:"), log)
}

func openSQLite(ctx context.Context, path string, log *slog.Logger) (experiments.Store, error) {
	s, err := sqlite.Open(ctx, path, log)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func openPostgres(ctx context.Context, url string, log *slog.Logger) (experiments.Store, error) {
	s, err := postgres.Open(ctx, url, log)
	if err != nil {
		return nil, err
	}
	return s, nil
}
