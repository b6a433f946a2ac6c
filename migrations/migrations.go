package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// The dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// versionTable is goose's version table (its default name).
const versionTable = goose.DefaultTablename

// legacyTable is the version table of promolift's own runner before goose;
// legacyAdopted is the row that marks it as adopted (see adopt).
const (
	legacyTable   = "schema_migrations"
	legacyAdopted = 2147483647
)

// legacyLockKey is the PostgreSQL advisory lock the old runner held while it
// migrated ("promolift" in ASCII, truncated to 63 bits).
const legacyLockKey int64 = 0x70726f6d6f6c6966

// lockTimeout bounds the wait for another process's migrations, polled
// every second.
const lockTimeout = 10 * time.Minute

// Migration is one embedded SQL file.
type Migration struct {
	Version int64
	Name    string // the file name, such as 0001_init.sql
	SQL     string
}

// List returns the migrations of dialect in version order.
func List(dialect string) ([]Migration, error) {
	fsys, err := dialectFS(dialect)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migrations: %s/%s: %w", dialect, name, err)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	// Glob returns the names sorted, and the names start with their
	// zero-padded versions.
	return out, nil
}

// State is the state of one migration in a database.
type State struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time // goose's timestamp: for adopted versions, the adoption
}

// Status returns the state of every migration of dialect in db, in
// version order. It creates goose's version table when it is missing.
func Status(ctx context.Context, db *sql.DB, dialect string) ([]State, error) {
	r, err := newRunner(ctx, db, dialect)
	if err != nil {
		return nil, err
	}
	st, err := r.p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: status: %w", err)
	}
	out := make([]State, 0, len(st))
	for _, s := range st {
		out = append(out, State{
			Version:   s.Source.Version,
			Name:      path.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Apply brings the schema of db up to date for dialect ("sqlite" or
// "postgres") and returns how many files it applied.
func Apply(ctx context.Context, db *sql.DB, dialect string) (int, error) {
	fsys, err := dialectFS(dialect)
	if err != nil {
		return 0, err
	}
	return apply(ctx, db, dialect, fsys)
}

// apply is Apply with the migrations of fsys.
func apply(ctx context.Context, db *sql.DB, dialect string, fsys fs.FS) (int, error) {
	r, err := newRunnerFS(ctx, db, dialect, fsys)
	if err != nil {
		return 0, err
	}
	current, err := r.prepare(ctx)
	if err != nil {
		return 0, err
	}
	if latest := r.p.ListSources(); current > latest[len(latest)-1].Version {
		return 0, fmt.Errorf("migrations: the database is at version %d, newer than this binary's %d: upgrade promolift",
			current, latest[len(latest)-1].Version)
	}
	res, err := r.p.Up(ctx)
	if err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			return len(partial.Applied), fmt.Errorf("migrations: %s: %w", path.Base(partial.Failed.Source.Path), partial.Err)
		}
		return 0, fmt.Errorf("migrations: %w", err)
	}
	return len(res), nil
}

// runner is a goose provider for one database and what prepare needs.
type runner struct {
	db      *sql.DB
	dialect string
	store   database.Store
	locker  lock.SessionLocker
	p       *goose.Provider
}

func newRunner(ctx context.Context, db *sql.DB, dialect string) (*runner, error) {
	fsys, err := dialectFS(dialect)
	if err != nil {
		return nil, err
	}
	return newRunnerFS(ctx, db, dialect, fsys)
}

func newRunnerFS(ctx context.Context, db *sql.DB, dialect string, fsys fs.FS) (*runner, error) {
	r := &runner{db: db, dialect: dialect}
	gd := goose.DialectPostgres
	var err error
	switch dialect {
	case Postgres:
		r.locker, err = postgresLocker(ctx, db)
	case SQLite:
		gd = goose.DialectSQLite3
		r.locker, err = sqliteLocker(ctx, db)
	default:
		err = fmt.Errorf("unknown dialect %q", dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if r.store, err = database.NewStore(gd, versionTable); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	r.p, err = goose.NewProvider(gd, db, fsys,
		goose.WithSessionLocker(r.locker),
		// A version below the newest applied one is applied too: versions
		// are assigned to changes in parallel and may land in any order.
		goose.WithAllowOutofOrder(true),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return r, nil
}

// postgresLocker is goose's session locker on an advisory lock of the
// schema the migrations work in (the first on the search_path), so that
// replicas of one deployment migrate one at a time and deployments in
// other schemas of the database do not wait for each other.
func postgresLocker(ctx context.Context, db *sql.DB) (lock.SessionLocker, error) {
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(current_schema(), '')`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("promolift migrations " + schema))
	return lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, uint64(lockTimeout/time.Second)),
	)
}

// prepare makes sure goose's version table exists, adopts the versions of
// the old runner's table, and returns the highest applied version: in one
// transaction, under the runner's lock.
func (r *runner) prepare(ctx context.Context) (current int64, err error) {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	defer conn.Close()
	if err := r.locker.SessionLock(ctx, conn); err != nil {
		return 0, fmt.Errorf("migrations: lock: %w", err)
	}
	defer func() {
		if uerr := r.locker.SessionUnlock(context.WithoutCancel(ctx), conn); uerr != nil && err == nil {
			err = fmt.Errorf("migrations: unlock: %w", uerr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	exists, err := r.tableExists(ctx, tx, versionTable)
	if err != nil {
		return 0, err
	}
	if !exists {
		if err := r.store.CreateVersionTable(ctx, tx); err != nil {
			return 0, fmt.Errorf("migrations: create %s: %w", versionTable, err)
		}
		if err := r.store.Insert(ctx, tx, database.InsertRequest{Version: 0}); err != nil {
			return 0, fmt.Errorf("migrations: create %s: %w", versionTable, err)
		}
	}
	if err := r.adopt(ctx, tx); err != nil {
		return 0, err
	}
	if current, err = r.store.GetLatestVersion(ctx, tx); err != nil {
		return 0, fmt.Errorf("migrations: read the version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	return current, nil
}

// adopt records in goose's version table every version of the old runner's
// table schema_migrations (version, name, applied_at) that it lacks, and
// adds the row legacyAdopted to schema_migrations: the old runner refuses a
// database whose version is above its own files ("upgrade promolift"), so
// an older binary started on an adopted database stops instead of
// migrating it again. On PostgreSQL adopt first waits for an old runner
// still migrating (it holds legacyLockKey).
func (r *runner) adopt(ctx context.Context, tx *sql.Tx) error {
	exists, err := r.tableExists(ctx, tx, legacyTable)
	if err != nil || !exists {
		return err
	}
	if r.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, legacyLockKey); err != nil {
			return fmt.Errorf("migrations: adopt %s: %w", legacyTable, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM `+legacyTable+` ORDER BY version`)
	if err != nil {
		return fmt.Errorf("migrations: adopt %s: %w", legacyTable, err)
	}
	var versions []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrations: adopt %s: %w", legacyTable, err)
		}
		if v == legacyAdopted {
			rows.Close()
			return nil
		}
		versions = append(versions, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrations: adopt %s: %w", legacyTable, err)
	}
	for _, v := range versions {
		_, err := r.store.GetMigration(ctx, tx, v)
		if err == nil {
			continue
		}
		if !errors.Is(err, database.ErrVersionNotFound) {
			return fmt.Errorf("migrations: adopt version %d: %w", v, err)
		}
		if err := r.store.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
			return fmt.Errorf("migrations: adopt version %d: %w", v, err)
		}
	}
	q := `INSERT INTO ` + legacyTable + ` (version, name, applied_at) VALUES (?, ?, ?)`
	if r.dialect == Postgres {
		q = `INSERT INTO ` + legacyTable + ` (version, name, applied_at) VALUES ($1, $2, $3)`
	}
	if _, err := tx.ExecContext(ctx, q, legacyAdopted, "adopted into "+versionTable, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("migrations: adopt %s: %w", legacyTable, err)
	}
	return nil
}

func (r *runner) tableExists(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if r.dialect == Postgres {
		q = `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`
	}
	var n int
	if err := tx.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("migrations: look for %s: %w", name, err)
	}
	return n > 0, nil
}

func dialectFS(dialect string) (fs.FS, error) {
	if dialect != SQLite && dialect != Postgres {
		return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
	}
	fsys, err := fs.Sub(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return fsys, nil
}
