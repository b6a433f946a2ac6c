package sqlite_test

import (
	"context"
	"testing"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsRepurchasers upgrades a database of version 37 holding
// rollup rows (storetest.LegacySeriesRows) and their unit_weeks rows
// (storetest.LegacyWeeks): migration 0038 sets unit_weeks.repeated and
// fills in the repurchase counts, which the cohorts then read.
func TestMigrationFillsRepurchasers(t *testing.T) {
	path, db := legacyFile(t, 37)
	insertLegacyUnits(t, db, nil)
	for _, w := range storetest.LegacyWeeks {
		if _, err := db.ExecContext(context.Background(), `INSERT INTO unit_weeks (experiment, unit_id, metric, week,
			conversions, revenue) VALUES ('exp', ?, 'purchase', ?, ?, 100)`, w.Unit, w.Week, w.Conversions); err != nil {
			t.Fatal(err)
		}
	}
	storetest.RepurchasersBackfilled(t, upgraded(t, path, db))
}
