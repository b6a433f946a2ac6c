package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/banditrun"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/httpapi/console"
	"github.com/promolift/promolift/experiments/reportsnap"
)

func init() {
	register(command{name: "serve", summary: "run the HTTP API server", run: runServe})
}

func runServe(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) int {
	cfg, err := parseServeConfig(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "promolift serve: %v\n", err)
		return 2
	}
	if cfg.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			fmt.Fprintf(stderr, "promolift serve: --tls-cert/--tls-key (%s/%s): %v\n", envTLSCert, envTLSKey, err)
			return 2
		}
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	tuneGC(log, memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)) // gc.go

	tp, shutdownTracing, err := setupTracing(ctx, cfg.OTelEndpoint, cfg.OTelSampleRatio, log)
	if err != nil {
		fmt.Fprintf(stderr, "promolift serve: --otel-endpoint (%s): %v\n", envOTelEndpoint, err)
		return 2
	}
	defer func() { _ = shutdownTracing(context.Background()) }() // no-op after the flush below
	if tp != nil {
		log.Info("tracing on", "endpoint", describeOTelEndpoint(cfg.OTelEndpoint), "sample_ratio", cfg.OTelSampleRatio)
	}

	// Listen before anything is written: a busy port must leave no
	// database file, migration or generated admin key behind.
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "promolift serve: listen on %s (--addr / %s): %v\n", cfg.Addr, envAddr, err)
		return 1
	}
	defer ln.Close() // no-op once the server closed it

	store, err := openStore(ctx, cfg.DB, log)
	if err != nil {
		log.Error("open store", "db", describeDB(cfg.DB), "err", err)
		fmt.Fprintf(stderr, "promolift serve: cannot open the database %s: %v\n", describeDB(cfg.DB), err)
		return 1
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	log.Info("store open", "db", describeDB(cfg.DB))

	svc := newService(store, log)
	if err := errors.Join(svc.SetExposureBatching(cfg.ExposureBatchEvents, cfg.ExposureBatchWait),
		svc.SetExposureLanes(cfg.ExposureLanes)); err != nil {
		fmt.Fprintf(stderr, "promolift serve: %v\n", err)
		return 2
	}
	svc.SetExposureJournal(cfg.ExposureJournal)
	svc.ResumeExposureFold() // what a stopped or crashed server acknowledged
	token, created, err := svc.EnsureAdminKey(ctx, cfg.AdminKey)
	if err != nil {
		// The error names PROMOLIFT_ADMIN_KEY itself.
		switch experiments.KindOf(err) {
		case experiments.KindInvalid, experiments.KindConflict:
			fmt.Fprintf(stderr, "promolift serve: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "promolift serve: create the admin key: %v\n", err)
		return 1
	}
	switch {
	case token != "":
		printAdminKey(stderr, token)
		log.Info("generated the initial admin key (printed once to stderr, not logged)")
	case created:
		log.Info("created the initial admin key from " + envAdminKey)
	}

	reports := reportsnap.New(svc, cfg.Reports, log)
	defer reports.Close()
	handler := httpapi.New(svc, httpapi.Config{MaxBodyBytes: cfg.MaxBodyBytes, MaxBatchEvents: cfg.MaxBatchEvents,
		DisableMetrics: !cfg.Metrics, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, CORSOrigins: cfg.CORSOrigins,
		ScopeRateLimits: cfg.ScopeRateLimits, AuthFailureLimit: authFailureLimit(cfg.AuthFailureRate),
		ReportReadLimit:   reportReadLimit(cfg.ReportReadRate),
		MaxInflightIngest: cfg.MaxInflightIngest, MaxStreamsPerKey: cfg.MaxStreamsPerKey,
		MaxIngestPerKey: cfg.MaxIngestPerKey, IngestReadTimeout: cfg.IngestReadTimeout, TracerProvider: tp, Reports: reports,
		Console: console.New(svc, reports, log)}, log)
	// Request contexts derive from baseCtx, cancelled when shutdown starts,
	// so that long-lived streams (SSE) end and let Shutdown finish.
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           handler,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ReadTimeout:       cfg.ReadTimeout,
		ReadHeaderTimeout: min(cfg.ReadTimeout, 10*time.Second),
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(cancelBase)
	if cfg.PprofAddr != "" {
		stopPprof, err := startPprof(ctx, cfg.PprofAddr, stderr, log)
		if err != nil {
			fmt.Fprintf(stderr, "promolift serve: %v\n", err)
			return 1
		}
		defer stopPprof()
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stderr, "promolift: listening on %s://%s\n", scheme, addr)
	log.Info("listening", "addr", addr, "scheme", scheme)

	// The bandit updater (package banditrun) runs until shutdown starts;
	// the store closes only after its pass in flight ended.
	banditCtx, stopBandits := context.WithCancel(context.Background())
	banditDone := make(chan struct{})
	go func() {
		defer close(banditDone)
		banditrun.New(svc, cfg.BanditInterval, log).Run(banditCtx)
	}()
	defer func() { stopBandits(); <-banditDone }()

	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-serveErr:
		log.Error("server failed", "err", err)
		fmt.Fprintf(stderr, "promolift serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	stopBandits()
	<-banditDone
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	code := 0
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown: in-flight requests did not finish in time", "err", err)
		_ = srv.Close()
		code = 1
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("server failed", "err", err)
		code = 1
	}
	// The exposures acknowledged into the journal go into the events now,
	// within what is left of the shutdown timeout; what does not make it
	// stays in the journal for the next start.
	if err := svc.FoldExposureJournal(sctx); err != nil {
		log.Warn("fold the exposure journal at shutdown; the next start folds the rest", "err", err)
	}
	// Flush the spans of the last requests; a collector that is down costs
	// at most 5 s and is not a failed shutdown.
	tctx, tcancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := shutdownTracing(tctx); err != nil {
		log.Warn("flush traces", "err", err)
	}
	tcancel()
	if err := store.Close(); err != nil {
		log.Error("close store", "err", err)
		code = 1
	}
	store = closedStore{store}
	log.Info("stopped")
	return code
}

// closedStore makes the deferred Close a no-op once the store was closed
// in order.
type closedStore struct{ experiments.Store }

func (closedStore) Close() error { return nil }

// newService builds the domain service with the targeting-condition
// checker of package assign.
func newService(store experiments.Store, log *slog.Logger) *experiments.Service {
	svc := experiments.NewService(store, log)
	svc.SetConditionChecker(func(doc []byte) error {
		_, err := assign.ParseCondition(doc)
		return err
	})
	return svc
}

// printAdminKey shows a generated admin key once, in a box on stderr.
func printAdminKey(w io.Writer, token string) {
	line := "Admin API key (shown once): " + token
	note := "Store it now: only its hash is kept. Set " + envAdminKey + " to choose your own."
	width := max(len(line), len(note))
	bar := "+" + strings.Repeat("-", width+2) + "+"
	fmt.Fprintln(w, bar)
	fmt.Fprintf(w, "| %-*s |\n", width, line)
	fmt.Fprintf(w, "| %-*s |\n", width, note)
	fmt.Fprintln(w, bar)
}

// authFailureLimit is the limit of requests with an invalid key per client
// address: rate per second with bursts of ten times that; 0 is none.
// reportReadLimit is the pacing of report reads for --report-read-rate
// (0: none): bursts of a tenth of a second's reads, at least one.
func reportReadLimit(rate float64) httpapi.RateLimit {
	if rate <= 0 {
		return httpapi.RateLimit{Rate: -1}
	}
	return httpapi.RateLimit{Rate: rate, Burst: max(1, int(rate/10))}
}

func authFailureLimit(rate float64) httpapi.RateLimit {
	if rate <= 0 {
		return httpapi.RateLimit{Rate: -1}
	}
	return httpapi.RateLimit{Rate: rate, Burst: max(1, int(10*rate))}
}
