package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// BenchmarkIngest measures IngestEvents on s with batches of batch events:
// per unit one exposure and three conversions, new units in every batch,
// on top of whatever s already holds. It reports events/s.
func BenchmarkIngest(b *testing.B, s experiments.Store, batch int) {
	ctx := context.Background()
	benchExperiment(b, s)
	next := 0
	mk := func() []experiments.Event {
		evs := make([]experiments.Event, 0, batch)
		for len(evs) < batch {
			u := fmt.Sprint("bu", next)
			next++
			evs = append(evs, exposure("bx"+u, u, "bench", []string{"control", "treat"}[next%2], time.Duration(next)*time.Second,
				map[string]string{"country": "KR"}, "push"))
			for k := 0; k < 3 && len(evs) < batch; k++ {
				evs = append(evs, conversion(fmt.Sprint("bc", k, u), u, "purchase", time.Duration(next+k)*time.Second+time.Hour, 1000, nil))
			}
		}
		return evs
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := mk()
		b.StartTimer()
		if _, err := s.IngestEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkExposures stores batches of batch exposures of new units only,
// what the exposure group commit of assign and OFREP stores (the
// experiment's environment is the default, like the serving benchmark's).
// Its CPU time per exposure is the store's side of a logged exposure.
func BenchmarkExposures(b *testing.B, s experiments.Store, batch int) {
	// The group commit's context, which bounds its transaction.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchExperiment(b, s)
	next := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := make([]experiments.Event, batch)
		for k := range evs {
			u := fmt.Sprint("bu", next)
			next++
			evs[k] = exposure("bx"+u, u, "bench", []string{"control", "treat"}[next%2], time.Duration(next)*time.Millisecond,
				map[string]string{"country": "KR"}, "")
		}
		b.StartTimer()
		if _, err := s.IngestEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "exposures/s")
}

// benchExperiment creates the running experiment "bench" of the ingest
// benchmarks, unless s holds it already.
func benchExperiment(b *testing.B, s experiments.Store) {
	b.Helper()
	e := &experiments.Experiment{Key: "bench", Variants: []experiments.Variant{{Key: "control", Weight: 0.5}, {Key: "treat", Weight: 0.5}},
		CreatedAt: t0, UpdatedAt: t0}
	e.ApplyDefaults()
	e.Status = experiments.StatusRunning
	if err := s.CreateExperiment(context.Background(), e); err != nil && experiments.KindOf(err) != experiments.KindConflict {
		b.Fatal(err)
	}
}
