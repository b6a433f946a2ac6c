package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsRepurchasers builds a schema at version 37 holding
// rollup rows (storetest.LegacySeriesRows) and their unit_weeks rows
// (storetest.LegacyWeeks), then opens the store, which applies 0038: it
// sets unit_weeks.repeated and fills in the repurchase counts, which the
// cohorts then read.
func TestMigrationFillsRepurchasers(t *testing.T) {
	s := upgradedFrom(t, 37, func(db *sql.DB) {
		insertLegacyUnits(t, db, nil)
		for _, w := range storetest.LegacyWeeks {
			if _, err := db.ExecContext(context.Background(), `INSERT INTO unit_weeks (experiment, unit_id, metric, week,
				conversions, revenue) VALUES ('exp', $1, 'purchase', $2, $3, 100)`, w.Unit, w.Week, w.Conversions); err != nil {
				t.Fatal(err)
			}
		}
	})
	storetest.RepurchasersBackfilled(t, s)
}
