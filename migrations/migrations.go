package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// The dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// advisoryLockKey is the PostgreSQL advisory lock taken while migrating
// ("promolift" in ASCII, truncated to 63 bits).
const advisoryLockKey int64 = 0x70726f6d6f6c6966

// Migration is one embedded SQL file.
type Migration struct {
	Version int
	Name    string // the file name, such as 0001_init.sql
	SQL     string
}

// List returns the migrations of dialect in version order.
func List(dialect string) ([]Migration, error) {
	if dialect != SQLite && dialect != Postgres {
		return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
	}
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migrations: bad file name %s/%s (want NNNN_name.sql)", dialect, name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := files.ReadFile(path.Join(dialect, name))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Latest returns the highest version of dialect.
func Latest(dialect string) (int, error) {
	ms, err := List(dialect)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].Version, nil
}

// Apply brings the schema of db up to date for dialect ("sqlite" or
// "postgres") and returns how many files it applied. Each file runs in its
// own transaction together with its row in schema_migrations.
func Apply(ctx context.Context, db *sql.DB, dialect string) (applied int, err error) {
	ms, err := List(dialect)
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	defer conn.Close()

	if dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, advisoryLockKey); err != nil {
			return 0, fmt.Errorf("migrations: lock: %w", err)
		}
		defer func() {
			// A fresh context: the unlock must run even when ctx is done.
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, uerr := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, advisoryLockKey); uerr != nil && err == nil {
				err = fmt.Errorf("migrations: unlock: %w", uerr)
			}
		}()
	}

	create := `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return 0, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	current, err := currentVersion(ctx, conn, dialect)
	if err != nil {
		return 0, err
	}
	if len(ms) > 0 && current > ms[len(ms)-1].Version {
		return 0, fmt.Errorf("migrations: the database is at version %d, newer than this binary's %d: upgrade promolift", current, ms[len(ms)-1].Version)
	}
	// Every migration not yet recorded is applied, in order, even one
	// numbered below the newest applied: applyOne checks each version.
	for _, m := range ms {
		done, err := applyOne(ctx, conn, dialect, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied++
		}
	}
	return applied, nil
}

// Version returns the highest applied version of db (0 when none).
func Version(ctx context.Context, db *sql.DB, dialect string) (int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	defer conn.Close()
	return currentVersion(ctx, conn, dialect)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func currentVersion(ctx context.Context, q querier, dialect string) (int, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		if isMissingTable(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("migrations: read version: %w", err)
	}
	return int(v.Int64), nil
}

func isMissingTable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no such table") || strings.Contains(s, "does not exist")
}

// applyOne runs m in a transaction unless another process applied it in
// the meantime (SQLite has no advisory lock: the check is repeated inside
// the write transaction).
func applyOne(ctx context.Context, conn *sql.Conn, dialect string, m Migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrations: %s: begin: %w", m.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	if dialect == SQLite {
		// Take the write lock before reading, so the check is reliable.
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_migrations WHERE 0`); err != nil {
			return false, fmt.Errorf("migrations: %s: %w", m.Name, err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, rebind(dialect, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
		return false, fmt.Errorf("migrations: %s: %w", m.Name, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrations: %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, rebind(dialect, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return false, fmt.Errorf("migrations: %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrations: %s: commit: %w", m.Name, err)
	}
	return true, nil
}

// rebind turns ? placeholders into $n for PostgreSQL. The queries it is
// used on have no ? inside literals.
func rebind(dialect, q string) string {
	if dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
