package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"
)

// Optional Go profiling endpoints of serve, off by default. With
// --pprof-addr (PROMOLIFT_PPROF_ADDR) set, serve opens a second listener,
// never the API's, that serves net/http/pprof under /debug/pprof/: heap,
// goroutine, CPU profile, trace. It has no authentication, so the address
// must be on a loopback interface (127.0.0.0/8, ::1 or localhost) unless
// --pprof-allow-remote (PROMOLIFT_PPROF_ALLOW_REMOTE) is true; reach it
// through an SSH tunnel or kubectl port-forward instead.

const (
	envPprofAddr        = "PROMOLIFT_PPROF_ADDR"
	envPprofAllowRemote = "PROMOLIFT_PPROF_ALLOW_REMOTE"
)

// pprofOptions are serve's profiling flags.
type pprofOptions struct{ addr, allowRemote *option }

func addPprofOptions(o *options) pprofOptions {
	return pprofOptions{
		addr: o.add("pprof-addr", envPprofAddr, "",
			"serve Go profiles (net/http/pprof, no authentication) at /debug/pprof/ on this separate loopback address, such as 127.0.0.1:6060 (default: off)"),
		allowRemote: o.addBool("pprof-allow-remote", envPprofAllowRemote, "false",
			"allow a --pprof-addr that is not a loopback address (anyone who reaches it can profile the server)"),
	}
}

// resolve validates the profiling options and returns the address to
// listen on ("": profiling off).
func (p pprofOptions) resolve() (string, error) {
	remote, err := strconv.ParseBool(strings.TrimSpace(p.allowRemote.value))
	if err != nil {
		return "", p.allowRemote.errorf("must be true or false")
	}
	addr := strings.TrimSpace(p.addr.value)
	if addr == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", p.addr.errorf("must be host:port, such as 127.0.0.1:6060")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", p.addr.errorf("the port must be a number between 0 and 65535")
	}
	if !remote && !isLoopbackHost(host) {
		return "", p.addr.errorf("the profiling endpoint has no authentication: use a loopback address such as 127.0.0.1:6060, "+
			"or set --pprof-allow-remote (%s) to true", envPprofAllowRemote)
	}
	return addr, nil
}

// isLoopbackHost reports whether host (of host:port; "" means every
// interface) is "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pprofHandler serves the net/http/pprof endpoints on a mux of its own,
// not on http.DefaultServeMux.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also heap, goroutine, allocs, block, mutex, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// startPprof listens on addr and serves the profiling endpoints until the
// returned function is called. It prints the bound address to stderr, as
// serve does for the API.
func startPprof(ctx context.Context, addr string, stderr io.Writer, log *slog.Logger) (func(), error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (--pprof-addr / %s): %w", addr, envPprofAddr, err)
	}
	srv := &http.Server{
		Handler:           pprofHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bound := ln.Addr().String()
	fmt.Fprintf(stderr, "promolift: pprof listening on http://%s/debug/pprof/\n", bound)
	log.Info("pprof listening", "addr", bound)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server failed", "err", err)
		}
	}()
	return func() { _ = srv.Close(); <-done }, nil
}
