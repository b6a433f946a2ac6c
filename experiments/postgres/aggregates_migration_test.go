package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

// TestMigrationGivesAggregatesAnEnvironment builds a schema at version 25
// holding a customer's aggregate, then opens the store, which applies 0026
// (customer_aggregates keyed by (unit_id, environment)): the row becomes
// environment "", so it counts in every environment's segments.
func TestMigrationGivesAggregatesAnEnvironment(t *testing.T) {
	ctx := context.Background()
	u := testURL(t)
	db, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrationstest.Legacy(t, db, migrations.Postgres, 25)
	bought := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO customer_aggregates (unit_id, last_purchase_at, purchase_count, monetary)
		VALUES ('u1', $1, 2, 5000)`, bought); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.CustomerAggregates(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Environment != "" || rows[0].PurchaseCount != 2 || rows[0].Monetary != 5000 ||
		!rows[0].LastPurchaseAt.Equal(bought) {
		t.Fatalf("aggregates after the migration: %+v, want one row of environment \"\"", rows)
	}
	svc := experiments.NewService(s, nil)
	svc.SetClock(func() time.Time { return bought.Add(24 * time.Hour) })
	for _, env := range []string{experiments.DefaultEnvironment, "staging"} {
		g, err := svc.Segments(ctx, env, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if !g.Known || g.Aggregate.PurchaseCount != 2 || g.AIPL != experiments.AIPLPurchase {
			t.Errorf("Segments(%s) after the migration: %+v", env, g)
		}
	}
}
