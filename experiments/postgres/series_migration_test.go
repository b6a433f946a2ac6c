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

// TestMigrationFillsSeriesSums builds a schema at version 28 holding
// rollup rows (storetest.LegacySeriesRows), then opens the store, which
// applies 0029: it fills in the running totals of unit_metrics_daily and
// the per-day series sums, which the series then reads; and 0030, which
// fills in the slice sums from the units' rollup rows.
func TestMigrationFillsSeriesSums(t *testing.T) {
	s := upgradedFrom(t, 28, func(db *sql.DB) {
		rows := storetest.LegacySeriesRows
		insertLegacyUnits(t, db, nil)
		day0 := rows.Start.Unix() / 86400
		for _, r := range rows.Dailys {
			if _, err := db.ExecContext(context.Background(), `INSERT INTO unit_metrics_daily (experiment, unit_id, metric, day,
				variant, multiple, conversions, revenue, cost) VALUES ('exp', $1, 'purchase', $2, $3, FALSE, $4, $5, 0)`,
				r.Unit, day0+r.Day, r.Variant, r.Count, r.Revenue); err != nil {
				t.Fatal(err)
			}
		}
	})
	storetest.SeriesBackfilled(t, s)
	storetest.SlicesBackfilled(t, s)
}

// upgradedFrom builds a schema at version, lets fill write rows into it,
// then opens the store (closed at the end of the test), which applies the
// migrations after version.
func upgradedFrom(t *testing.T, version int64, fill func(db *sql.DB)) *postgres.Store {
	t.Helper()
	u := testURL(t)
	db, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrationstest.Legacy(t, db, migrations.Postgres, version)
	fill(db)
	s, err := postgres.Open(context.Background(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// insertLegacyUnits inserts the exposures_rollup and unit_metrics rows of
// the units of storetest.LegacySeriesRows into db, with attrs (JSON by
// unit) as their stored attributes.
func insertLegacyUnits(t *testing.T, db *sql.DB, attrs map[string]string) {
	t.Helper()
	ctx := context.Background()
	for _, r := range storetest.LegacySeriesRows.Units {
		var a any
		if v, ok := attrs[r.Unit]; ok {
			a = v
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO exposures_rollup (experiment, unit_id, first_variant, first_exposed_at,
			first_event_id, exposures, multiple, attributes, channel) VALUES ('exp', $1, $2, $3, $4, 1, FALSE, $5, $6)`,
			r.Unit, r.Variant, r.First, "e-"+r.Unit, a, r.Channel); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO unit_metrics (experiment, unit_id, metric, conversions, revenue, cost,
			variant, multiple, channel, first_exposed_at) VALUES ('exp', $1, 'purchase', $2, $3, 0, $4, FALSE, $5, $6)`,
			r.Unit, r.Count, r.Revenue, r.Variant, r.Channel, r.First); err != nil {
			t.Fatal(err)
		}
	}
}
