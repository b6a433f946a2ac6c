package migrationstest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

// TestLegacyIsAdopted: a database Legacy left at version 9 has a row in
// schema_migrations for each file up to 0009, and migrations.Apply then
// applies only the files after them.
func TestLegacyIsAdopted(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "legacy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := migrations.List(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	upTo := 0
	for _, m := range ms {
		if m.Version <= 9 {
			upTo++
		}
	}
	old := migrationstest.Legacy(t, db, migrations.SQLite, 9)
	var rows int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != old || old != upTo {
		t.Fatalf("Legacy applied %d, schema_migrations has %d rows (%v); want %d", old, rows, err, upTo)
	}
	n, err := migrations.Apply(context.Background(), db, migrations.SQLite)
	if err != nil || n != len(ms)-old {
		t.Fatalf("Apply = %d, %v; want %d", n, err, len(ms)-old)
	}
}
