package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsOrderRollups stores a stream of exposures, orders and
// refunds, takes the schema back to before migration 0028 (its tables,
// functions and goose row gone), and opens the store again: 0028 fills
// unit_orders and variant_orders from the stored events, and the report's
// channel credit and order values match a recomputation from them.
func TestMigrationFillsOrderRollups(t *testing.T) {
	ctx := context.Background()
	u := testURL(t)
	s, err := postgres.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := storetest.IngestOrderStream(t, s)
	s.Close()
	db, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP TABLE unit_orders; DROP TABLE variant_orders;
DROP FUNCTION promolift_orders_delta(); DROP FUNCTION promolift_flush_orders();
DELETE FROM goose_db_version WHERE version_id = 28`); err != nil {
		t.Fatal(err)
	}
	s, err = postgres.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckOrderRollups(t, s, stored)
}
