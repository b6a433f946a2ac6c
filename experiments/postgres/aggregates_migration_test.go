package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationGivesAggregatesAnEnvironment builds a schema at version 25
// holding a customer's aggregate, then opens the store, which applies 0026
// (customer_aggregates keyed by (unit_id, environment)): the row becomes
// environment "", so it counts in every environment's segments.
func TestMigrationGivesAggregatesAnEnvironment(t *testing.T) {
	ctx := context.Background()
	db, u := legacySchema(t, 25)
	bought := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO customer_aggregates (unit_id, last_purchase_at, purchase_count, monetary)
		VALUES ('u1', $1, 2, 5000)`, bought); err != nil {
		t.Fatal(err)
	}
	s := openURL(t, u)
	storetest.AggregateHasNoEnvironment(t, s, "u1", bought)
}
