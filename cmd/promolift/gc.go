package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// serveGCPercent is serve's GOGC unless the environment sets one. Go's
// default, 100, starts a collection whenever the heap has grown by its live
// size since the last one. serve's live heap is a few MiB while every
// request allocates, so at 100 it collects tens of times a second: at
// 64 clients on a new customer each request, 15% of the server's CPU went
// to the collector with the exposure logged. At 400 it collects a quarter
// as often (docs/deploy.md has the figures); the price is a heap that may
// grow to five times its live size between collections, which the memory
// limit below bounds.
const serveGCPercent = 400

// memLimitRatio is the share of the container's memory limit that serve
// takes as its soft memory limit (GOMEMLIMIT): near it, the collector runs
// as often as it must instead of at serveGCPercent.
const memLimitRatio = 0.9

// tuneGC sets serve's garbage collector: GOGC serveGCPercent and a soft
// memory limit of memLimitRatio of what limit reports (the cgroup's memory
// limit, else the machine's memory), each unless the environment sets
// GOGC or GOMEMLIMIT itself (AUTOMEMLIMIT=off also keeps the limit off).
func tuneGC(log *slog.Logger, limit memlimit.Provider) {
	ownGOGC := os.Getenv("GOGC") == ""
	if ownGOGC {
		debug.SetGCPercent(serveGCPercent)
	}
	got, err := memlimit.Set(memlimit.WithProvider(limit), memlimit.WithRatio(memLimitRatio),
		memlimit.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Warn("no memory limit for the garbage collector", "err", err)
		return
	}
	log.Debug("garbage collector", "serve_gogc", ownGOGC, "memory_limit_bytes", got)
}
