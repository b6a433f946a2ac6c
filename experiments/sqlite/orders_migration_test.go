package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

// TestMigrationFillsOrderRollups stores a stream of exposures, orders and
// refunds, takes the file back to before migration 0028 (its tables,
// triggers and goose row gone), and opens the store again: 0028 fills
// unit_orders and variant_orders from the stored events, and the report's
// channel credit and order values match a recomputation from them.
func TestMigrationFillsOrderRollups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "promolift.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := storetest.IngestOrderStream(t, s)
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE unit_orders; DROP TABLE variant_orders;
DELETE FROM goose_db_version WHERE version_id = 28`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckOrderRollups(t, s, stored)
}
