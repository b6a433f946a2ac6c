package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/promolift/promolift/experiments/storetest"
	"github.com/promolift/promolift/migrations"
)

func TestList(t *testing.T) {
	var versions [2][]int
	for i, d := range []string{migrations.SQLite, migrations.Postgres} {
		ms, err := migrations.List(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s: no migrations", d)
		}
		for j, m := range ms {
			if j > 0 && m.Version <= ms[j-1].Version {
				t.Fatalf("%s: versions out of order: %v", d, ms)
			}
			if strings.TrimSpace(m.SQL) == "" {
				t.Fatalf("%s: %s is empty", d, m.Name)
			}
			versions[i] = append(versions[i], m.Version)
		}
	}
	if len(versions[0]) != len(versions[1]) {
		t.Fatalf("sqlite has versions %v, postgres %v: every change needs both", versions[0], versions[1])
	}
	for i := range versions[0] {
		if versions[0][i] != versions[1][i] {
			t.Fatalf("sqlite has versions %v, postgres %v: every change needs both", versions[0], versions[1])
		}
	}
	if _, err := migrations.List("mysql"); err == nil {
		t.Fatal("List(mysql) did not fail")
	}
}

func TestApplySQLite(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testApply(t, ctx, db, migrations.SQLite)
}

func testApply(t *testing.T, ctx context.Context, db *sql.DB, dialect string) {
	latest, err := migrations.Latest(dialect)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations.List(dialect)
	n, err := migrations.Apply(ctx, db, dialect)
	if err != nil || n != len(ms) {
		t.Fatalf("first Apply = %d, %v; want %d", n, err, len(ms))
	}
	n, err = migrations.Apply(ctx, db, dialect)
	if err != nil || n != 0 {
		t.Fatalf("second Apply = %d, %v; want 0", n, err)
	}
	v, err := migrations.Version(ctx, db, dialect)
	if err != nil || v != latest {
		t.Fatalf("Version = %d, %v; want %d", v, err, latest)
	}
	var count int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&count); err != nil {
		t.Fatalf("the events table is missing: %v", err)
	}
	// A database from a newer binary is refused.
	q := `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99999, 'future.sql', 'x')`
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Apply(ctx, db, dialect); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Apply on a newer schema: %v", err)
	}
}

func TestApplyPostgres(t *testing.T) {
	db, err := sql.Open("postgres", storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testApply(t, context.Background(), db, migrations.Postgres)
}

func TestApplyPostgresConcurrently(t *testing.T) {
	u := storetest.PostgresURL(t)
	ms, _ := migrations.List(migrations.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		n   int
		err error
	}
	results := make(chan result, 4)
	for i := 0; i < 4; i++ {
		go func() {
			db, err := sql.Open("postgres", u)
			if err != nil {
				results <- result{0, err}
				return
			}
			defer db.Close()
			n, err := migrations.Apply(ctx, db, migrations.Postgres)
			results <- result{n, err}
		}()
	}
	total := 0
	for i := 0; i < 4; i++ {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		total += r.n
	}
	if total != len(ms) {
		t.Fatalf("4 concurrent Apply calls applied %d files in all, want %d", total, len(ms))
	}
}

func TestApplySQLiteConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ms, _ := migrations.List(migrations.SQLite)
	type result struct {
		n   int
		err error
	}
	results := make(chan result, 4)
	for i := 0; i < 4; i++ {
		go func() {
			// As the store opens it: no journal_mode pragma per connection
			// (a concurrent switch to WAL answers SQLITE_BUSY without
			// waiting, which made this test fail under load).
			db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(10000)")
			if err != nil {
				results <- result{0, err}
				return
			}
			defer db.Close()
			n, err := migrations.Apply(context.Background(), db, migrations.SQLite)
			results <- result{n, err}
		}()
	}
	total := 0
	for i := 0; i < 4; i++ {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		total += r.n
	}
	if total != len(ms) {
		t.Fatalf("4 concurrent Apply calls applied %d files in all, want %d", total, len(ms))
	}
}
