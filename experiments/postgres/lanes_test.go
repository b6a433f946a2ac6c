package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
)

// TestExposureLanes: the group commit of exposures keeps one batch per
// lane in flight (experiments.IngestLanes), so a batch that waits in the
// database (here on a row lock of its unit's customer aggregate, held by
// another transaction) holds up neither the exposures of units of other
// lanes nor their answers; with one lane (SetExposureLanes(1), the
// default) the next request waits behind it.
func TestExposureLanes(t *testing.T) {
	tests := []struct {
		name   string
		lanes  int  // SetExposureLanes; -1: not called
		heldUp bool // the other lane's request waits for the blocked batch
	}{
		{name: "the store's lanes", lanes: 0, heldUp: false},
		{name: "one lane", lanes: 1, heldUp: true},
		{name: "the default", lanes: -1, heldUp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if s.IngestLanes() < 2 {
				t.Fatalf("IngestLanes() = %d, want several", s.IngestLanes())
			}
			svc := experiments.NewService(s, nil)
			if err := svc.SetExposureBatching(8, 0); err != nil {
				t.Fatal(err)
			}
			if tc.lanes >= 0 {
				if err := svc.SetExposureLanes(tc.lanes); err != nil {
					t.Fatal(err)
				}
			}
			e := &experiments.Experiment{Key: "lanes", Coverage: 1, Variants: []experiments.Variant{{Key: "control", Weight: 0.5}, {Key: "treat", Weight: 0.5}}}
			if err := svc.CreateExperiment(ctx, experiments.Principal{}, e); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Transition(ctx, experiments.Principal{}, "lanes", experiments.ActionStart); err != nil {
				t.Fatal(err)
			}
			// Two units of different lanes.
			blocked, other := "blocked", ""
			for i := 0; other == ""; i++ {
				if u := fmt.Sprint("u", i); s.IngestLane(u) != s.IngestLane(blocked) {
					other = u
				}
			}
			sdk := experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}
			assign := func(ctx context.Context, unit string) error {
				_, err := svc.Assign(ctx, sdk, experiments.AssignRequest{UnitID: unit, Experiments: []string{"lanes"}, LogExposure: true})
				return err
			}

			hold, err := s.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = hold.Rollback() }()
			if _, err := hold.ExecContext(ctx, `INSERT INTO customer_aggregates (unit_id, environment) VALUES ($1, $2)`, blocked, experiments.DefaultEnvironment); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- assign(ctx, blocked) }()
			waitForLockWait(t, s.DB())

			short, cancel := context.WithTimeout(ctx, 3*time.Second)
			err = assign(short, other)
			cancel()
			if heldUp := err != nil; heldUp != tc.heldUp {
				t.Errorf("the request of another lane's unit: %v; held up %v, want %v", err, heldUp, tc.heldUp)
			}
			select {
			case err := <-done:
				t.Fatalf("the blocked request answered before its lock was released: %v", err)
			default:
			}
			if err := hold.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("the blocked request after the release: %v", err)
			}
			if err := assign(ctx, other); err != nil {
				t.Fatalf("again, the request of another lane's unit: %v", err)
			}
		})
	}
}

// waitForLockWait waits until an ingest of exposures (its statement
// starts "WITH input AS (", more of it the view may cut) waits for a lock.
func waitForLockWait(t *testing.T, db *sqlx.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH input AS (%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no session waits for a lock after 30 s")
}
