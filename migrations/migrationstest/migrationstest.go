// Package migrationstest builds databases as an older promolift left them,
// for the tests of upgrades: the schema files up to a version, applied with
// the bookkeeping of the runner before goose (a schema_migrations table
// with one row per file), which migrations.Apply adopts.
package migrationstest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/promolift/promolift/migrations"
)

// Legacy applies to db every file of dialect whose version is at most
// upTo, each whole, recording each in schema_migrations as the old runner
// did, and returns how many it applied.
func Legacy(t testing.TB, db *sql.DB, dialect string, upTo int64) (applied int) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
	if dialect == migrations.Postgres {
		insert = `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`
	}
	ms, err := migrations.List(dialect)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version > upTo {
			break
		}
		if _, err := db.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := db.ExecContext(ctx, insert, m.Version, m.Name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			t.Fatal(err)
		}
		applied++
	}
	return applied
}
