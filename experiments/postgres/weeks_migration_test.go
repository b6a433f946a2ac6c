package postgres_test

import (
	"context"
	"testing"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsUnitWeeks builds a schema at version 26 holding raw
// events and the unit's exposures_rollup row, then opens the store, which
// applies 0027: it fills unit_weeks from them.
func TestMigrationFillsUnitWeeks(t *testing.T) {
	ctx := context.Background()
	db, u := legacySchema(t, 26)
	if _, err := db.ExecContext(ctx, `CREATE TABLE events_p2025_12 PARTITION OF events FOR VALUES FROM ('2025-12-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');
CREATE TABLE events_p2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')`); err != nil {
		t.Fatal(err)
	}
	for _, e := range storetest.UpgradeWeeksEvents() {
		if _, err := db.ExecContext(ctx, `INSERT INTO events (event_id, environment, type, unit_id, ts, experiment, variant,
			name, revenue, currency, order_id, received_at) VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), $9, $10, $11, $12)`,
			e.ID, e.Environment, string(e.Type), e.UnitID, e.Timestamp, e.Experiment, e.Variant, e.Name,
			e.Revenue, e.Currency, e.OrderID, e.ReceivedAt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO exposures_rollup (experiment, unit_id, first_variant, first_exposed_at,
		first_event_id, exposures, multiple, attributes, channel) VALUES ('wk', 'u1', 'control', $1, 'up-x', 1, FALSE, NULL, '')`,
		storetest.UpgradeWeeksT0); err != nil {
		t.Fatal(err)
	}
	s := openURL(t, u)
	storetest.WantUpgradedWeeks(t, s)
}
