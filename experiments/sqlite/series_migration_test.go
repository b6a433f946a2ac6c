package sqlite_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsSeriesSums upgrades a database of version 28 holding
// rollup rows (storetest.LegacySeriesRows) to the current schema:
// migration 0029 fills in the running totals of unit_metrics_daily and the
// per-day series sums, which the series then reads; 0030 the slice sums
// from the units' rollup rows.
func TestMigrationFillsSeriesSums(t *testing.T) {
	ctx := context.Background()
	path, db := legacyFile(t, 28)
	rows := storetest.LegacySeriesRows
	insertLegacyUnits(t, db, nil)
	day0 := rows.Start.Unix() / 86400
	for _, r := range rows.Dailys {
		if _, err := db.ExecContext(ctx, `INSERT INTO unit_metrics_daily (experiment, unit_id, metric, day, variant, multiple,
			conversions, revenue, cost) VALUES ('exp', ?, 'purchase', ?, ?, 0, ?, ?, 0)`,
			r.Unit, day0+r.Day, r.Variant, r.Count, r.Revenue); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.SeriesBackfilled(t, s)
	storetest.SlicesBackfilled(t, s)
}

// insertLegacyUnits inserts the exposures_rollup and unit_metrics rows of
// the units of storetest.LegacySeriesRows into db, with attrs (JSON by
// unit) as their stored attributes.
func insertLegacyUnits(t *testing.T, db *sql.DB, attrs map[string]string) {
	t.Helper()
	ctx := context.Background()
	for _, u := range storetest.LegacySeriesRows.Units {
		var a any
		if v, ok := attrs[u.Unit]; ok {
			a = v
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO exposures_rollup (experiment, unit_id, first_variant, first_exposed_at,
			first_event_id, exposures, multiple, attributes, channel) VALUES ('exp', ?, ?, ?, ?, 1, 0, ?, ?)`,
			u.Unit, u.Variant, u.First.UnixMicro(), "e-"+u.Unit, a, u.Channel); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO unit_metrics (experiment, unit_id, metric, conversions, revenue, cost,
			variant, multiple, channel, first_exposed_at) VALUES ('exp', ?, 'purchase', ?, ?, 0, ?, 0, ?, ?)`,
			u.Unit, u.Count, u.Revenue, u.Variant, u.Channel, u.First.UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
}
