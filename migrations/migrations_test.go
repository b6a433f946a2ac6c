package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	_ "modernc.org/sqlite"

	"github.com/promolift/promolift/experiments/storetest"
	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

func TestList(t *testing.T) {
	var versions [2][]int64
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
			if !strings.HasPrefix(m.SQL, "-- +goose Up\n") {
				t.Fatalf("%s: %s does not start with the line -- +goose Up", d, m.Name)
			}
			versions[i] = append(versions[i], m.Version)
		}
	}
	if fmt.Sprint(versions[0]) != fmt.Sprint(versions[1]) {
		t.Fatalf("sqlite has versions %v, postgres %v: every change needs both", versions[0], versions[1])
	}
	if _, err := migrations.List("mysql"); err == nil {
		t.Fatal("List(mysql) did not fail")
	}
}

// testStore is one database flavour: newDSN makes a fresh, empty database.
type testStore struct {
	dialect string
	driver  string
	newDSN  func(t *testing.T) string
}

var testStores = []testStore{
	{migrations.SQLite, "sqlite", func(t *testing.T) string {
		// As the store opens its writer.
		return "file:" + filepath.Join(t.TempDir(), "m.db") + "?_txlock=immediate&_pragma=busy_timeout(10000)"
	}},
	{migrations.Postgres, "postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
}

func (s testStore) open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(s.driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustList(t *testing.T, dialect string) []migrations.Migration {
	t.Helper()
	ms, err := migrations.List(dialect)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestApplyFresh(t *testing.T) {
	for _, s := range testStores {
		t.Run(s.dialect, func(t *testing.T) {
			ctx := context.Background()
			db := s.open(t, s.newDSN(t))
			ms := mustList(t, s.dialect)
			n, err := migrations.Apply(ctx, db, s.dialect)
			if err != nil || n != len(ms) {
				t.Fatalf("first Apply = %d, %v; want %d", n, err, len(ms))
			}
			n, err = migrations.Apply(ctx, db, s.dialect)
			if err != nil || n != 0 {
				t.Fatalf("second Apply = %d, %v; want 0", n, err)
			}
			st, err := migrations.Status(ctx, db, s.dialect)
			if err != nil || len(st) != len(ms) {
				t.Fatalf("Status = %d states, %v; want %d", len(st), err, len(ms))
			}
			for i, m := range ms {
				if st[i].Version != m.Version || st[i].Name != m.Name || !st[i].Applied || st[i].AppliedAt.IsZero() {
					t.Errorf("Status[%d] = %+v; want %s applied", i, st[i], m.Name)
				}
			}
			checkVersionsOnce(t, db, ms)
			var count int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&count); err != nil {
				t.Fatalf("the events table is missing: %v", err)
			}
			// A database from a newer binary is refused.
			if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, TRUE)`); err != nil {
				t.Fatal(err)
			}
			if _, err := migrations.Apply(ctx, db, s.dialect); err == nil || !strings.Contains(err.Error(), "newer") {
				t.Fatalf("Apply on a newer schema: %v", err)
			}
		})
	}
}

// checkVersionsOnce fails unless goose's table records each of ms exactly
// once (and the zero version goose starts with).
func checkVersionsOnce(t *testing.T, db *sql.DB, ms []migrations.Migration) {
	t.Helper()
	rows, err := db.Query(`SELECT version_id, COUNT(*) FROM goose_db_version GROUP BY version_id ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v, n int64
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d×%d", v, n))
	}
	want := []string{"0×1"}
	for _, m := range ms {
		want = append(want, fmt.Sprintf("%d×1", m.Version))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("goose_db_version holds %v; want %v", got, want)
	}
}

// schema describes the tables, columns, indexes and views of db without
// the migration bookkeeping, with the name of the PostgreSQL schema
// removed, so that two databases can be compared.
func schema(t *testing.T, db *sql.DB, dialect string) string {
	t.Helper()
	q := `SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master
WHERE name NOT IN ('goose_db_version', 'schema_migrations', 'sqlite_sequence') ORDER BY 1`
	if dialect == migrations.Postgres {
		q = `SELECT 'column ' || table_name || ' ' || ordinal_position || ' ' || column_name || ' ' || data_type || ' ' ||
	is_nullable || ' ' || COALESCE(column_default, '')
FROM information_schema.columns WHERE table_schema = current_schema()
	AND table_name NOT IN ('goose_db_version', 'schema_migrations')
UNION ALL SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL SELECT 'view ' || viewname || ': ' || definition FROM pg_views WHERE schemaname = current_schema()
UNION ALL SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(c.oid) FROM pg_constraint c
	JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema()
ORDER BY 1`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, "goose_db_version") || strings.Contains(line, "schema_migrations") {
			continue
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if dialect == migrations.Postgres {
		var name string
		if err := db.QueryRow(`SELECT current_schema()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = strings.ReplaceAll(out, name+".", "")
	}
	return out
}

// TestAdoptLegacy upgrades databases migrated by the old runner: goose
// records their versions without running them again and applies only the
// newer files, and the schema ends the same as a fresh one's.
func TestAdoptLegacy(t *testing.T) {
	for _, s := range testStores {
		t.Run(s.dialect, func(t *testing.T) {
			ms := mustList(t, s.dialect)
			fresh := s.open(t, s.newDSN(t))
			if _, err := migrations.Apply(context.Background(), fresh, s.dialect); err != nil {
				t.Fatal(err)
			}
			want := schema(t, fresh, s.dialect)
			for _, c := range []struct {
				name        string
				upTo        int64
				statusFirst bool // a status read created goose's table before the upgrade
			}{
				{"at 0001", 1, false},
				{"at 0009", 9, false},
				{"at 0009, status read first", 9, true},
				{"all applied", ms[len(ms)-1].Version, false},
			} {
				t.Run(c.name, func(t *testing.T) {
					ctx := context.Background()
					db := s.open(t, s.newDSN(t))
					old := migrationstest.Legacy(t, db, s.dialect, c.upTo)
					if c.statusFirst {
						if _, err := migrations.Status(ctx, db, s.dialect); err != nil {
							t.Fatal(err)
						}
					}
					n, err := migrations.Apply(ctx, db, s.dialect)
					if err != nil || n != len(ms)-old {
						t.Fatalf("Apply = %d, %v; want %d (the files after the old runner's %d)", n, err, len(ms)-old, old)
					}
					checkVersionsOnce(t, db, ms)
					if got := schema(t, db, s.dialect); got != want {
						t.Fatalf("schema after the upgrade differs from a fresh one:\n%s\nwant\n%s", got, want)
					}
					// The old runner's check now refuses the database.
					var top int64
					if err := db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&top); err != nil || top <= ms[len(ms)-1].Version {
						t.Fatalf("schema_migrations tops at %d, %v: an old binary would migrate again", top, err)
					}
					n, err = migrations.Apply(ctx, db, s.dialect)
					if err != nil || n != 0 {
						t.Fatalf("second Apply = %d, %v; want 0", n, err)
					}
					checkVersionsOnce(t, db, ms)
				})
			}
		})
	}
}

// testApplyConcurrently starts several Apply calls at once on one
// database, each with its own pool (as separate processes): every file is
// applied exactly once, fresh and when adopting the old runner's table.
func TestApplySQLiteConcurrently(t *testing.T)   { testApplyConcurrently(t, testStores[0]) }
func TestApplyPostgresConcurrently(t *testing.T) { testApplyConcurrently(t, testStores[1]) }

func testApplyConcurrently(t *testing.T, s testStore) {
	for _, upTo := range []int64{0, 9} {
		t.Run(fmt.Sprintf("old runner at %d", upTo), func(t *testing.T) {
			ms := mustList(t, s.dialect)
			dsn := s.newDSN(t)
			old := 0
			if upTo > 0 {
				old = migrationstest.Legacy(t, s.open(t, dsn), s.dialect, upTo)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const callers = 4
			type result struct {
				n   int
				err error
			}
			results := make(chan result, callers)
			for range callers {
				db := s.open(t, dsn)
				go func() {
					n, err := migrations.Apply(ctx, db, s.dialect)
					results <- result{n, err}
				}()
			}
			total := 0
			for range callers {
				r := <-results
				if r.err != nil {
					t.Fatal(r.err)
				}
				total += r.n
			}
			if total != len(ms)-old {
				t.Fatalf("%d concurrent Apply calls applied %d files in all, want %d", callers, total, len(ms)-old)
			}
			checkVersionsOnce(t, s.open(t, dsn), ms)
		})
	}
}

// TestApplyFailing: a failing migration is rolled back whole and its
// version stays unrecorded; the next Apply runs it again.
func TestApplyFailing(t *testing.T) {
	good := &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE a (x INTEGER);\n")}
	for _, s := range testStores {
		t.Run(s.dialect, func(t *testing.T) {
			ctx := context.Background()
			db := s.open(t, s.newDSN(t))
			fsys := fstest.MapFS{
				"0001_a.sql": good,
				"0002_b.sql": {Data: []byte("-- +goose Up\nCREATE TABLE b (x INTEGER);\nINSERT INTO missing VALUES (1);\n")},
			}
			n, err := migrations.ApplyFS(ctx, db, s.dialect, fsys)
			if err == nil || n != 1 || !strings.Contains(err.Error(), "0002_b.sql") {
				t.Fatalf("Apply = %d, %v; want 1 and an error naming 0002_b.sql", n, err)
			}
			var count int
			if err := db.QueryRow(`SELECT COUNT(*) FROM goose_db_version WHERE version_id = 2`).Scan(&count); err != nil || count != 0 {
				t.Fatalf("version 2 recorded %d times (%v) after it failed", count, err)
			}
			if _, err := db.Exec(`SELECT COUNT(*) FROM b`); err == nil {
				t.Fatal("the failed migration's table b was kept")
			}
			fsys["0002_b.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE b (x INTEGER);\n")}
			n, err = migrations.ApplyFS(ctx, db, s.dialect, fsys)
			if err != nil || n != 1 {
				t.Fatalf("Apply after the fix = %d, %v; want 1", n, err)
			}
		})
	}
}

// TestApplyOutOfOrder: a file numbered below the newest applied one (its
// change landed later) is applied, as the runner before goose did.
func TestApplyOutOfOrder(t *testing.T) {
	for _, s := range testStores {
		t.Run(s.dialect, func(t *testing.T) {
			ctx := context.Background()
			db := s.open(t, s.newDSN(t))
			fsys := fstest.MapFS{
				"0001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE a (x INTEGER);\n")},
				"0003_c.sql": {Data: []byte("-- +goose Up\nCREATE TABLE c (x INTEGER);\n")},
			}
			if n, err := migrations.ApplyFS(ctx, db, s.dialect, fsys); err != nil || n != 2 {
				t.Fatalf("Apply = %d, %v; want 2", n, err)
			}
			fsys["0002_b.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE b (x INTEGER);\n")}
			if n, err := migrations.ApplyFS(ctx, db, s.dialect, fsys); err != nil || n != 1 {
				t.Fatalf("Apply with 0002 added = %d, %v; want 1", n, err)
			}
			if _, err := db.Exec(`SELECT COUNT(*) FROM b`); err != nil {
				t.Fatalf("0002 did not run: %v", err)
			}
		})
	}
}

// TestAdoptWaitsForOldRunner: during a rolling upgrade an older replica
// may still be migrating with the old runner (under its advisory lock);
// the adoption waits for it and adopts what it applied.
func TestAdoptWaitsForOldRunner(t *testing.T) {
	s := testStores[1]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ms := mustList(t, s.dialect)
	dsn := s.newDSN(t)
	old := migrationstest.Legacy(t, s.open(t, dsn), s.dialect, 9)
	// The old runner, between two files.
	oldRunner, err := s.open(t, dsn).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer oldRunner.Close()
	const oldKey = 0x70726f6d6f6c6966
	if _, err := oldRunner.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(oldKey)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	db := s.open(t, dsn)
	go func() {
		n, err := migrations.Apply(ctx, db, s.dialect)
		done <- result{n, err}
	}()
	// Wait until Apply waits for the old runner's lock.
	for {
		var waiting int
		if err := oldRunner.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
	AND ((classid::bigint << 32) | objid::bigint) = $1`, int64(oldKey)).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("Apply = %d, %v without waiting for the old runner's lock", r.n, r.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The old runner applies its next file and ends.
	next := ms[old]
	if _, err := oldRunner.ExecContext(ctx, next.SQL); err != nil {
		t.Fatalf("%s: %v", next.Name, err)
	}
	if _, err := oldRunner.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 'x')`, next.Version, next.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := oldRunner.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, int64(oldKey)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != len(ms)-old-1 {
		t.Fatalf("Apply = %d, %v; want %d (the old runner applied %s)", r.n, r.err, len(ms)-old-1, next.Name)
	}
	checkVersionsOnce(t, db, ms)
}
