package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/storetest"
	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

// TestMigrationFillsAttributeSums builds a schema at version 32 holding
// rollup rows with stored attributes (storetest.LegacySeriesRows,
// storetest.LegacyAttributes), then opens the store, which applies 0033:
// it fills in the attribute sums, which the breakdown by an attribute then
// reads.
func TestMigrationFillsAttributeSums(t *testing.T) {
	u := testURL(t)
	db, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrationstest.Legacy(t, db, migrations.Postgres, 32)
	insertLegacyUnits(t, db, storetest.LegacyAttributes)
	s, err := postgres.Open(context.Background(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.AttributesBackfilled(t, s)
}
