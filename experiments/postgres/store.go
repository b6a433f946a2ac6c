package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
	"github.com/promolift/promolift/migrations"
)

// Store is the PostgreSQL store. It is safe for concurrent use, also by
// several processes on one database.
type Store struct {
	// The CRUD of experiments, flags, API keys and the audit log (crud.go).
	*sqlstore.Store

	db *sqlx.DB
	w  rdb // writes and reads go through the same pool
	r  rdb
	// rep is the report's own pool (reportConns connections, read-only
	// repeatable-read transactions): report computations never take a
	// connection that assignment or ingest waits for, and under MVCC their
	// snapshots block no writer.
	rep *sqlx.DB
	log *slog.Logger

	// ingestDB is the general ingest's own pool (ingestConns connections,
	// half of them kept open): each of its connections has the ingest's
	// temp tables from the start (tempTablesConnector): five CREATE TABLEs,
	// which cost a new connection tens of milliseconds of PostgreSQL's time
	// under load, so the connections of the other pools, which come and go
	// with the load, do without.
	ingestDB *sqlx.DB

	parts partitionSet // the monthly events partitions known to exist (partitions.go)

	stmts       *stmtCache // statements prepared on db
	ingestStmts *stmtCache // statements prepared on ingestDB
}

// poolConns is the size of the pool of assignment and the exposure
// batches, ingestConns that of the general ingest's pool; half of each
// may be in transactions that prepare statements (stmtCache).
const (
	poolConns   = 32
	ingestConns = 16
)

var _ experiments.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...), applies the
// pending migrations, and returns the store. log may be nil.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := sqlx.Open("postgres", withDefaultSettings(url))
	if err != nil {
		return nil, wrap("open", err)
	}
	db.SetMaxOpenConns(poolConns)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	rep, err := sqlx.Open("postgres", withSettings(withDefaultSettings(url), reportSettings))
	if err != nil {
		db.Close()
		return nil, wrap("open", err)
	}
	rep.SetMaxOpenConns(reportConns)
	rep.SetMaxIdleConns(reportConns)
	rep.SetConnMaxIdleTime(5 * time.Minute)
	pc, err := pq.NewConnector(withDefaultSettings(url))
	if err != nil {
		db.Close()
		rep.Close()
		return nil, wrap("open", err)
	}
	ingestDB := sqlx.NewDb(sql.OpenDB(tempTablesConnector{pc}), "postgres")
	ingestDB.SetMaxOpenConns(ingestConns)
	ingestDB.SetMaxIdleConns(ingestConns / 2)
	ingestDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, w: rdb{db}, r: rdb{db}, rep: rep, ingestDB: ingestDB, log: log,
		stmts: newStmtCache(db, poolConns), ingestStmts: newStmtCache(ingestDB, ingestConns)}
	s.Store = newCommon(s.w, s.r)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sessionDefaults are run-time settings every connection starts with
// unless the database URL sets them. jit = off: the statistics, cohort and
// pre-period queries are big aggregates that PostgreSQL's cost model sends
// to LLVM JIT compilation, which cost seconds more than it saved (3.6 s of
// a 4.4 s pre-period query at 1,000,000 units) and nothing a report reads
// benefits from it.
var sessionDefaults = map[string]string{"jit": "off"}

// withDefaultSettings adds the sessionDefaults that dsn (a postgres:// URL
// or a key=value connection string) does not set; lib/pq sends parameters
// it does not know to the server as run-time settings.
func withDefaultSettings(dsn string) string { return withSettings(dsn, sessionDefaults) }

// reportSettings are the run-time settings of the report's pool besides
// sessionDefaults: its connections can only read.
var reportSettings = map[string]string{"default_transaction_read_only": "on"}

// withSettings adds the settings that dsn does not set (see
// withDefaultSettings).
func withSettings(dsn string, settings map[string]string) string {
	if u, err := neturl.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k, v := range settings {
			if !q.Has(k) {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range settings {
		if !strings.Contains(" "+dsn, " "+k+"=") {
			dsn += " " + k + "=" + v
		}
	}
	return dsn
}

// tempTablesConnector opens connections that have the ingest's temp
// tables (tempTablesSQL) from the start: the ingest's statements name
// them and are prepared once per connection (stmtCache), which needs them
// to exist on every connection of the pool for its whole life. Their rows
// go at the commit of the transaction that wrote them.
type tempTablesConnector struct{ *pq.Connector }

func (c tempTablesConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cn.(driver.ExecerContext).ExecContext(ctx, tempTablesSQL, nil); err != nil {
		_ = cn.Close()
		return nil, err
	}
	return cn, nil
}

// Migrate applies the pending migrations and returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	n, err := migrations.Apply(ctx, s.db.DB, migrations.Postgres)
	if err != nil {
		return n, wrap("migrate", err)
	}
	if n > 0 {
		s.log.Info("applied database migrations", "store", "postgres", "count", n)
	}
	return n, nil
}

// DB returns the database handle (for tools and tests).
func (s *Store) DB() *sqlx.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// stmtCache holds statements prepared once for the pool db: database/sql
// prepares one on each connection the first time a transaction there uses
// it and reuses it after, so an execution costs one round trip (bind and
// execute) without parsing or planning.
//
// A transaction that meets a statement not yet prepared prepares it on
// another connection of the pool (database/sql has no other way to make a
// statement of the pool): with every connection held by such transactions
// none would get one. So at most half the pool's connections are in
// transactions that use the cache (tx).
type stmtCache struct {
	db    *sqlx.DB
	slots chan struct{} // the transactions in flight
	mu    sync.Mutex
	m     map[string]*sqlx.Stmt // by their SQL
}

func newStmtCache(db *sqlx.DB, conns int) *stmtCache {
	return &stmtCache{db: db, slots: make(chan struct{}, conns/2)}
}

// tx runs fn in a transaction of the cache's pool (Store.txOn) once a
// slot is free.
func (c *stmtCache) tx(ctx context.Context, s *Store, fn func(tx *rtx) error) error {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.txOn(ctx, c.db, fn)
}

// prepared returns the statement q (with ? placeholders) of tx, a
// transaction of c.tx.
func (c *stmtCache) prepared(ctx context.Context, tx *rtx, q string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[q]
	c.mu.Unlock()
	if !ok {
		// Prepared without the lock, which would otherwise wait for a
		// connection of the pool with every other transaction behind it.
		fresh, err := c.db.PreparexContext(ctx, c.db.Rebind(q))
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if st, ok = c.m[q]; ok { // another transaction was first
			_ = fresh.Close()
		} else {
			if c.m == nil {
				c.m = map[string]*sqlx.Stmt{}
			}
			c.m[q], st = fresh, fresh
		}
		c.mu.Unlock()
	}
	return tx.StmtxContext(ctx, st), nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.mu.Unlock()
}

// Close closes the pools.
func (s *Store) Close() error {
	s.stmts.close()
	s.ingestStmts.close()
	err := s.db.Close()
	for _, db := range []*sqlx.DB{s.rep, s.ingestDB} {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// reportConns is the size of the report's pool: a report runs its
// independent reads side by side, at most this many at once.
const reportConns = 4

// EventsMarker implements experiments.EventsMarker: the value of the
// events_marker sequence, advanced after every committed ingest and
// erasure (bumpEventsMarker). Unlike a transaction ID it moves with this
// database's events only, not with every write of the cluster.
func (s *Store) EventsMarker(ctx context.Context) (string, error) {
	var v string
	if err := s.rep.GetContext(ctx, &v, `SELECT last_value::text || ':' || is_called::text FROM events_marker`); err != nil {
		return "", wrap("events marker", err)
	}
	return v, nil
}

// bumpEventsMarker advances the events marker after a commit that changed
// events. It runs after the commit so that a report computed between the
// bump and the commit cannot keep the new marker without the new events; a
// failure is only logged: the snapshot's maximum age bounds the staleness.
func (s *Store) bumpEventsMarker(ctx context.Context) {
	if _, err := s.db.ExecContext(ctx, `SELECT nextval('events_marker')`); err != nil {
		s.log.Warn("events marker not advanced", "store", "postgres", "err", err)
	}
}

// rdb and rtx rebind the ? placeholders of the shared SQL to $n.
type rdb struct{ *sqlx.DB }

func (d rdb) GetContext(ctx context.Context, dest any, q string, args ...any) error {
	return d.DB.GetContext(ctx, dest, d.Rebind(q), args...)
}

func (d rdb) SelectContext(ctx context.Context, dest any, q string, args ...any) error {
	return d.DB.SelectContext(ctx, dest, d.Rebind(q), args...)
}

func (d rdb) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.Rebind(q), args...)
}

func (d rdb) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.Rebind(q), args...)
}

type rtx struct{ *sqlx.Tx }

func (t *rtx) GetContext(ctx context.Context, dest any, q string, args ...any) error {
	return t.Tx.GetContext(ctx, dest, t.Rebind(q), args...)
}

func (t *rtx) SelectContext(ctx context.Context, dest any, q string, args ...any) error {
	return t.Tx.SelectContext(ctx, dest, t.Rebind(q), args...)
}

func (t *rtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.Rebind(q), args...)
}

func (t *rtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.Rebind(q), args...)
}

// wrap adds context to err, "postgres: <op>: <cause>", and maps a driver
// error to a domain error kind (mapErr); domain errors keep their kind.
func wrap(op string, err error) error { return sqlstore.Wrap("postgres", op, err, mapErr) }

// mapErr maps a driver error to a domain error kind.
func mapErr(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		code := pe.SQLState()
		switch {
		case code == "23505":
			return &experiments.Error{Kind: experiments.KindConflict, Code: "already_exists", Message: "already exists", Err: err}
		case strings.HasPrefix(code, "23"), strings.HasPrefix(code, "22"):
			return &experiments.Error{Kind: experiments.KindInvalid, Code: "rejected_by_store", Message: "the store rejected the input", Err: err}
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57P"),
			code == "40001", code == "40P01", code == "25006", code == "55P03":
			return experiments.Unavailable(err)
		}
		return err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || strings.Contains(err.Error(), "database is closed") {
		return experiments.Unavailable(err)
	}
	return err
}

// retryable reports whether err is a deadlock or serialization failure
// worth retrying the transaction for.
func retryable(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.SQLState() == "40P01" || pe.SQLState() == "40001")
}

// tx runs fn in a transaction and commits it, retrying a few times on
// deadlocks and serialization failures.
func (s *Store) tx(ctx context.Context, fn func(tx *rtx) error) error {
	return s.txOn(ctx, s.db, fn)
}

// txOn is tx in a transaction of pool db.
func (s *Store) txOn(ctx context.Context, db *sqlx.DB, fn func(tx *rtx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.tx1on(ctx, db, fn)
		if err != nil && retryable(err) && attempt < 3 {
			s.log.Warn("retrying transaction", "store", "postgres", "attempt", attempt+1, "err", err)
			continue
		}
		return err
	}
}

func (s *Store) tx1(ctx context.Context, fn func(tx *rtx) error) error { return s.tx1on(ctx, s.db, fn) }

func (s *Store) tx1on(ctx context.Context, db *sqlx.DB, fn func(tx *rtx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&rtx{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
