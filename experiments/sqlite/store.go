package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
	"github.com/promolift/promolift/migrations"
)

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	// The CRUD of experiments, flags, API keys and the audit log (crud.go).
	*sqlstore.Store

	w *sqlx.DB // the single writer connection
	r *sqlx.DB // readers (the writer itself for in-memory databases)
	// rep are the report's readers (reportReaders connections; the
	// writer itself for in-memory databases): the long read transactions
	// of a report computation never take a connection that assignment or
	// ingest waits for. In WAL mode readers never block the writer.
	rep *sqlx.DB
	log *slog.Logger

	ingest ingestStmts // the ingest's prepared statements (stmts.go)
}

var _ experiments.Store = (*Store)(nil)

// busyTimeout is how long a connection waits for a lock held by another
// process before it gives up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	// No journal_mode(WAL) here: changing the journal mode needs an
	// exclusive lock and SQLite answers SQLITE_BUSY at once, without the
	// busy timeout, while another connection converts the same new file;
	// as a connection pragma that failed opening connections when
	// processes (or tests) opened one database together. enableWAL sets
	// it once, retrying; WAL then persists in the file.
	q.Add("_pragma", "synchronous(FULL)") // an acknowledged batch survives power loss
	// Deleted cells and freed pages are overwritten with zeros, so an
	// erased customer's bytes do not linger in free space (docs/security.md).
	q.Add("_pragma", "secure_delete(1)")
	if write {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database file at path, applies the
// pending migrations, and returns the store. path ":memory:" gives a
// private in-memory database on one connection. log may be nil.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, experiments.Invalid("db", "required", "a database path is required")
	}
	w, err := sqlx.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, r: w, rep: w, log: log}
	if err := s.Ping(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if path != ":memory:" {
		if err := enableWAL(ctx, w.DB); err != nil {
			w.Close()
			return nil, err
		}
	}
	if path != ":memory:" {
		r, err := sqlx.Open("sqlite", dsn(path, false))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		r.SetMaxOpenConns(8)
		r.SetMaxIdleConns(8)
		s.r = r
		rep, err := sqlx.Open("sqlite", dsn(path, false))
		if err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		rep.SetMaxOpenConns(reportReaders)
		rep.SetMaxIdleConns(reportReaders)
		s.rep = rep
	}
	s.Store = newCommon(s.w, s.r)
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// enableWAL puts the database in WAL mode (persistent in the file),
// retrying for up to busyTimeout while another connection holds the lock
// the change needs (SQLite reports SQLITE_BUSY then without waiting).
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("sqlite: journal mode is %s, WAL could not be set", mode)
		case !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline):
			return fmt.Errorf("sqlite: set WAL mode: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Migrate applies the pending migrations and returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	n, err := migrations.Apply(ctx, s.w.DB, migrations.SQLite)
	if err != nil {
		return n, wrap("migrate", err)
	}
	if n > 0 {
		s.log.Info("applied database migrations", "store", "sqlite", "count", n)
	}
	return n, nil
}

// DB returns the writer's database handle (for tools and tests).
func (s *Store) DB() *sqlx.DB { return s.w }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// reportReaders is the size of the report's reader pool: a report runs
// its independent reads side by side, at most this many at once, leaving
// the other CPU to the serving path on a small machine.
const reportReaders = 2

// Close closes the pools.
func (s *Store) Close() error {
	s.ingest.close()
	err := s.w.Close()
	for _, p := range []*sqlx.DB{s.r, s.rep} {
		if p == s.w {
			continue
		}
		if rerr := p.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// EventsMarker implements experiments.EventsMarker: the newest rowid of
// events (an index probe), which grows with every stored event.
func (s *Store) EventsMarker(ctx context.Context) (string, error) {
	var n int64
	if err := s.r.GetContext(ctx, &n, `SELECT COALESCE(MAX(rowid), 0) FROM events`); err != nil {
		return "", wrap("events marker", err)
	}
	return fmt.Sprint(n), nil
}

// wrap adds context to err, "sqlite: <op>: <cause>", and maps a driver
// error to a domain error kind (mapErr); domain errors keep their kind.
func wrap(op string, err error) error { return sqlstore.Wrap("sqlite", op, err, mapErr) }

// mapErr maps a driver error to a domain error kind.
func mapErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return experiments.Unavailable(err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch code {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &experiments.Error{Kind: experiments.KindConflict, Code: "already_exists", Message: "already exists", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY,
			sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return &experiments.Error{Kind: experiments.KindInvalid, Code: "rejected_by_store", Message: "the store rejected the input", Err: err}
		}
		switch code & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
			return experiments.Unavailable(err)
		case sqlite3.SQLITE_CONSTRAINT:
			return &experiments.Error{Kind: experiments.KindInvalid, Code: "rejected_by_store", Message: "the store rejected the input", Err: err}
		}
	}
	if strings.Contains(err.Error(), "database is closed") {
		return experiments.Unavailable(err)
	}
	return err
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it.
func (s *Store) tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
