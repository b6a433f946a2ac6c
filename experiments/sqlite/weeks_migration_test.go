package sqlite_test

import (
	"context"
	"testing"

	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsUnitWeeks upgrades a database of version 26 holding
// raw events and the unit's exposures_rollup row to the current schema:
// migration 0027 fills unit_weeks from them.
func TestMigrationFillsUnitWeeks(t *testing.T) {
	ctx := context.Background()
	path, db := legacyFile(t, 26)
	for _, e := range storetest.UpgradeWeeksEvents() {
		if _, err := db.ExecContext(ctx, `INSERT INTO events (event_id, environment, type, unit_id, ts, experiment, variant,
			name, revenue, currency, order_id, received_at) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), ?, ?, ?, ?)`,
			e.ID, e.Environment, string(e.Type), e.UnitID, e.Timestamp.UnixMicro(), e.Experiment, e.Variant, e.Name,
			e.Revenue, e.Currency, e.OrderID, e.ReceivedAt.UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO exposures_rollup (experiment, unit_id, first_variant, first_exposed_at,
		first_event_id, exposures, multiple, attributes, channel) VALUES ('wk', 'u1', 'control', ?, 'up-x', 1, 0, NULL, '')`,
		storetest.UpgradeWeeksT0.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	s := upgraded(t, path, db)
	storetest.WantUpgradedWeeks(t, s)
}
