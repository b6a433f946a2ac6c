package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/promolift/promolift/experiments"
)

// Queryer is what the shared SQL runs on: a database handle or a
// transaction (*sqlx.DB and *sqlx.Tx are Queryers). Queries use ?
// placeholders; a Queryer rebinds them when its driver needs that.
type Queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	NamedExecContext(ctx context.Context, query string, arg any) (sql.Result, error)
}

// Dialect is what differs between the databases.
type Dialect interface {
	// TimeEncoding is how timestamp columns are stored.
	TimeEncoding() TimeEncoding
	// Wrap adds the store and op to err and maps driver errors to domain
	// error kinds; domain errors keep their kind.
	Wrap(op string, err error) error
	// MapErr maps a driver error to a domain error kind (a unique
	// violation to KindConflict, connection trouble to KindUnavailable).
	MapErr(err error) error
	// InsertID runs an INSERT (without RETURNING) into a table with an
	// id column and returns the new row's id.
	InsertID(ctx context.Context, q Queryer, query string, args ...any) (int64, error)
	// TextIn returns the condition that the text column col is one of
	// values (not empty), with its arguments, for as many of values as
	// one statement takes; rest are the others.
	TextIn(col string, values []string) (cond string, args []any, rest []string)
}

// TimeEncoding is how a dialect stores timestamps.
type TimeEncoding int

const (
	// UnixMicros stores timestamps as INTEGER unix microseconds (SQLite).
	UnixMicros TimeEncoding = iota
	// Timestamp stores timestamps as timestamptz with microsecond
	// precision (PostgreSQL).
	Timestamp
)

// Time is a nullable timestamp column: NULL for the zero time. It scans
// both encodings and writes the one it was made with.
type Time struct {
	Time time.Time
	Enc  TimeEncoding
}

// Encode returns t as a column value of encoding enc.
func (enc TimeEncoding) Encode(t time.Time) Time { return Time{Time: t, Enc: enc} }

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) {
	if t.Time.IsZero() {
		return nil, nil
	}
	if t.Enc == Timestamp {
		return t.Time.UTC().Truncate(time.Microsecond), nil
	}
	return t.Time.UnixMicro(), nil
}

// Scan implements sql.Scanner.
func (t *Time) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		t.Time = time.Time{}
	case int64:
		t.Time, t.Enc = time.UnixMicro(x).UTC(), UnixMicros
	case time.Time:
		t.Time, t.Enc = time.UnixMicro(x.UnixMicro()).UTC(), Timestamp
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a timestamp", v)
	}
	return nil
}

// Wrap adds context to err, "<store>: <op>: <cause>", and maps a driver
// error with mapErr to a domain error kind; errors that already are
// domain errors keep their kind. It returns nil for a nil err.
func Wrap(store, op string, err error, mapErr func(error) error) error {
	if err == nil {
		return nil
	}
	var de *experiments.Error
	if errors.As(err, &de) {
		return fmt.Errorf("%s: %s: %w", store, op, err)
	}
	return fmt.Errorf("%s: %s: %w", store, op, mapErr(err))
}
