package sqlite_test

import (
	"testing"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsAttributeSums upgrades a database of version 32 holding
// rollup rows with stored attributes (storetest.LegacySeriesRows,
// storetest.LegacyAttributes): migration 0033 fills in the attribute sums,
// which the breakdown by an attribute then reads.
func TestMigrationFillsAttributeSums(t *testing.T) {
	path, db := legacyFile(t, 32)
	insertLegacyUnits(t, db, storetest.LegacyAttributes)
	storetest.AttributesBackfilled(t, upgraded(t, path, db))
}
