package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) experiments.Store { return open(t) })
}

func TestMemory(t *testing.T) {
	s, err := sqlite.Open(context.Background(), ":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestReopenAndMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "promolift.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Migrate(ctx)
	if err != nil || n != 0 {
		t.Fatalf("Migrate on an up-to-date database = %d, %v", n, err)
	}
}

// TestCheckRollupsFindsDamage: a damaged row of each rollup of
// conversions is reported by CheckRollups as missing and unexpected, and
// RecomputeRollups repairs it.
func TestCheckRollupsFindsDamage(t *testing.T) {
	for _, table := range []string{"unit_metrics", "unit_metrics_daily"} {
		t.Run(table, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			e := &experiments.Experiment{Key: "exp", Variants: []experiments.Variant{{Key: "a", Weight: 1}, {Key: "b"}}}
			e.ApplyDefaults()
			e.Status = experiments.StatusRunning
			e.CreatedAt, e.UpdatedAt = storetestTime, storetestTime
			if err := s.CreateExperiment(ctx, e); err != nil {
				t.Fatal(err)
			}
			evs := []experiments.Event{
				{ID: "1", Type: experiments.EventExposure, UnitID: "u", Experiment: "exp", Variant: "a", Timestamp: storetestTime},
				{ID: "2", Type: experiments.EventConversion, UnitID: "u", Name: "purchase", Revenue: 5, Currency: "KRW", Timestamp: storetestTime},
			}
			if _, err := s.IngestEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx, `UPDATE `+table+` SET revenue = revenue + 1`); err != nil {
				t.Fatal(err)
			}
			diffs, err := s.CheckRollups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != 2 || !strings.HasPrefix(diffs[0], table+": ") || !strings.HasPrefix(diffs[1], table+": ") {
				t.Fatalf("CheckRollups = %q, want a missing and an unexpected %s row", diffs, table)
			}
			if err := s.RecomputeRollups(ctx); err != nil {
				t.Fatal(err)
			}
			if diffs, err := s.CheckRollups(ctx); err != nil || len(diffs) != 0 {
				t.Fatalf("after RecomputeRollups: %q, %v", diffs, err)
			}
		})
	}
}

var storetestTime = mustTime("2026-01-01T00:00:00Z")

func BenchmarkIngest1000(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "promolift.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkIngest(b, s, 1000)
}

// TestOpenConcurrently: processes opening one new database file together
// all succeed and leave it in WAL mode (the journal mode was once a
// connection pragma, and a concurrent switch answers SQLITE_BUSY without
// the busy timeout).
func TestOpenConcurrently(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("c%d.db", round))
		errs := make(chan error, 6)
		for range 6 {
			go func() {
				s, err := sqlite.Open(context.Background(), path, nil)
				if err == nil {
					err = s.Close()
				}
				errs <- err
			}()
		}
		for range 6 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		s, err := sqlite.Open(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		if err := s.DB().QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("journal mode %q, %v; want wal", mode, err)
		}
		s.Close()
	}
}
