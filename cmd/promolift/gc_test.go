package main

import (
	"errors"
	"log/slog"
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// TestTuneGC: serve's collector settings apply unless the environment
// sets its own, and a failing memory-limit provider leaves the limit off.
func TestTuneGC(t *testing.T) {
	const gib = 1 << 30
	tenGiB := func() (uint64, error) { return 10 * gib, nil }
	none := func() (uint64, error) { return 0, errors.New("no limit found") }
	cases := []struct {
		name       string
		env        map[string]string
		limit      memlimit.Provider
		wantGC     int
		wantMemory int64
	}{
		{"defaults", nil, tenGiB, serveGCPercent, 9 * gib},
		{"GOGC set", map[string]string{"GOGC": "50"}, tenGiB, 50, 9 * gib},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "512MiB"}, tenGiB, serveGCPercent, 512 << 20},
		{"AUTOMEMLIMIT off", map[string]string{"AUTOMEMLIMIT": "off"}, tenGiB, serveGCPercent, 3 << 30},
		{"provider fails", nil, none, serveGCPercent, 3 << 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"GOGC", "GOMEMLIMIT", "AUTOMEMLIMIT"} {
				t.Setenv(k, c.env[k]) // restored after the test
				if c.env[k] == "" {
					os.Unsetenv(k)
				}
			}
			// What the process had before: the runtime reads GOGC and
			// GOMEMLIMIT only at start, so the test sets what the
			// environment would have given, then restores.
			prevGC, prevMem := debug.SetGCPercent(100), debug.SetMemoryLimit(3<<30)
			t.Cleanup(func() { debug.SetGCPercent(prevGC); debug.SetMemoryLimit(prevMem) })
			if v := c.env["GOGC"]; v != "" {
				debug.SetGCPercent(50)
			}
			if v := c.env["GOMEMLIMIT"]; v != "" {
				debug.SetMemoryLimit(512 << 20)
			}
			tuneGC(slog.New(slog.DiscardHandler), c.limit)
			if got := debug.SetGCPercent(-1); got != c.wantGC {
				t.Errorf("GOGC %d, want %d", got, c.wantGC)
			}
			debug.SetGCPercent(c.wantGC) // -1 turned the collector off
			if got := debug.SetMemoryLimit(-1); got != c.wantMemory {
				t.Errorf("memory limit %d, want %d", got, c.wantMemory)
			}
		})
	}
}
