package migrations

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// sqliteLocker returns the session locker of the SQLite database db: an
// exclusive transaction on the file <database>-migrate.lock next to it, a
// second SQLite database that holds nothing. goose has no locker for SQLite,
// and one on the database itself would block goose's own writes. The
// operating system drops the lock of a process that dies. An in-memory
// database has no other process to exclude: its locker does nothing.
func sqliteLocker(ctx context.Context, db *sql.DB) (lock.SessionLocker, error) {
	rows, err := db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return nil, fmt.Errorf("find the database file: %w", err)
	}
	defer rows.Close()
	file := ""
	for rows.Next() {
		var seq int
		var name, f string
		if err := rows.Scan(&seq, &name, &f); err != nil {
			return nil, fmt.Errorf("find the database file: %w", err)
		}
		if name == "main" {
			file = f
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find the database file: %w", err)
	}
	return &fileLocker{driver: db.Driver(), path: file + "-migrate.lock", inMemory: file == ""}, nil
}

// fileLocker implements lock.SessionLocker for SQLite (see sqliteLocker).
// It holds one lock at a time.
type fileLocker struct {
	driver   driver.Driver
	path     string
	inMemory bool

	db   *sql.DB
	conn *sql.Conn
}

var _ lock.SessionLocker = (*fileLocker)(nil)

// SessionLock waits until it holds the lock, ctx is done or lockTimeout
// has passed.
func (l *fileLocker) SessionLock(ctx context.Context, _ *sql.Conn) error {
	if l.inMemory {
		return nil
	}
	db := sql.OpenDB(connector{driver: l.driver, dsn: l.path})
	conn, err := db.Conn(ctx)
	if err == nil {
		// Each attempt waits up to a second inside SQLite.
		_, err = conn.ExecContext(ctx, `PRAGMA busy_timeout = 1000`)
	}
	deadline := time.Now().Add(lockTimeout)
	for err == nil {
		_, err = conn.ExecContext(ctx, `BEGIN EXCLUSIVE`)
		if err == nil {
			l.db, l.conn = db, conn
			return nil
		}
		if strings.Contains(err.Error(), "SQLITE_BUSY") && time.Now().Before(deadline) && ctx.Err() == nil {
			err = nil
		}
	}
	if conn != nil {
		conn.Close()
	}
	db.Close()
	return fmt.Errorf("lock %s: %w", l.path, err)
}

// SessionUnlock releases the lock.
func (l *fileLocker) SessionUnlock(ctx context.Context, _ *sql.Conn) error {
	if l.inMemory {
		return nil
	}
	if l.conn == nil {
		return errors.New("unlock: not locked")
	}
	_, err := l.conn.ExecContext(ctx, `ROLLBACK`)
	err = errors.Join(err, l.conn.Close(), l.db.Close())
	l.db, l.conn = nil, nil
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.path, err)
	}
	return nil
}

// connector opens connections to dsn with the driver of the database
// being migrated.
type connector struct {
	driver driver.Driver
	dsn    string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.driver }
