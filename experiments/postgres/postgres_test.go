package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/storetest"
)

// testURL returns the URL of a fresh, empty schema (see
// storetest.PostgresURL).
func testURL(t testing.TB) string {
	t.Helper()
	return storetest.PostgresURL(t)
}

func open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) experiments.Store { return open(t) })
}

func TestUnavailable(t *testing.T) {
	testURL(t) // skip without a database
	_, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil)
	if experiments.KindOf(err) != experiments.KindUnavailable {
		t.Fatalf("Open of a closed port: %v (kind %s), want unavailable", err, experiments.KindOf(err))
	}
}

func TestConcurrentOpen(t *testing.T) {
	u := testURL(t)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			s, err := postgres.Open(context.Background(), u, nil)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
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
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			e := &experiments.Experiment{Key: "exp", Variants: []experiments.Variant{{Key: "a", Weight: 1}, {Key: "b"}},
				CreatedAt: at, UpdatedAt: at}
			e.ApplyDefaults()
			e.Status = experiments.StatusRunning
			if err := s.CreateExperiment(ctx, e); err != nil {
				t.Fatal(err)
			}
			evs := []experiments.Event{
				{ID: "1", Type: experiments.EventExposure, UnitID: "u", Experiment: "exp", Variant: "a", Timestamp: at},
				{ID: "2", Type: experiments.EventConversion, UnitID: "u", Name: "purchase", Revenue: 5, Currency: "KRW", Timestamp: at},
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

func BenchmarkIngest1000(b *testing.B) {
	s, err := postgres.Open(context.Background(), testURL(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkIngest(b, s, 1000)
}

// TestJITOff: store connections start with jit off (store.go).
func TestJITOff(t *testing.T) {
	s := open(t)
	var jit string
	if err := s.DB().Get(&jit, `SHOW jit`); err != nil {
		t.Fatal(err)
	}
	if jit != "off" {
		t.Fatalf("jit = %q on a store connection, want off", jit)
	}
}
