package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

// TestMigrationGivesAggregatesAnEnvironment upgrades a database of version
// 25 holding a customer's aggregate to the current schema (migration 0026
// keys customer_aggregates by (unit_id, environment)): the row becomes
// environment "", so it counts in every environment's segments.
func TestMigrationGivesAggregatesAnEnvironment(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "promolift.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	migrationstest.Legacy(t, db, migrations.SQLite, 25)
	bought := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO customer_aggregates (unit_id, last_purchase_at, purchase_count, monetary)
		VALUES ('u1', ?, 2, 5000)`, bought.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(ctx, path, nil)
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
