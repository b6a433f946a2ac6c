package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationGivesAggregatesAnEnvironment upgrades a database of version
// 25 holding a customer's aggregate to the current schema (migration 0026
// keys customer_aggregates by (unit_id, environment)): the row becomes
// environment "", so it counts in every environment's segments.
func TestMigrationGivesAggregatesAnEnvironment(t *testing.T) {
	ctx := context.Background()
	path, db := legacyFile(t, 25)
	bought := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO customer_aggregates (unit_id, last_purchase_at, purchase_count, monetary)
		VALUES ('u1', ?, 2, 5000)`, bought.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	s := upgraded(t, path, db)
	storetest.AggregateHasNoEnvironment(t, s, "u1", bought)
}
