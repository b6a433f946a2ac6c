package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// legacyFile returns the path of a new database file migrated to version
// upTo by the runner before goose, and a connection to it for the test to
// store rows as that version did (the caller closes it before opening the
// store).
func legacyFile(t *testing.T, upTo int64) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "promolift.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	migrationstest.Legacy(t, db, migrations.SQLite, upTo)
	return path, db
}

// upgraded closes db, the connection of legacyFile, and opens the store on
// path, which migrates it to the current schema (closed at the end of the
// test).
func upgraded(t *testing.T, path string, db *sql.DB) *sqlite.Store {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
