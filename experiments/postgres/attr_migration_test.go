package postgres_test

import (
	"database/sql"
	"testing"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsAttributeSums builds a schema at version 32 holding
// rollup rows with stored attributes (storetest.LegacySeriesRows,
// storetest.LegacyAttributes), then opens the store, which applies 0033:
// it fills in the attribute sums, which the breakdown by an attribute then
// reads.
func TestMigrationFillsAttributeSums(t *testing.T) {
	s := upgradedFrom(t, 32, func(db *sql.DB) { insertLegacyUnits(t, db, storetest.LegacyAttributes) })
	storetest.AttributesBackfilled(t, s)
}
