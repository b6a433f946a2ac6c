package sqlite

// The row types of the shared tables live in package sqlstore; these
// helpers encode the columns of this store's own queries.

import (
	"database/sql"
	"time"
)

// micros converts t to unix microseconds, NULL for the zero time.
func micros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// nullJSON returns raw as a nullable text column.
func nullJSON(raw []byte) sql.NullString {
	if len(raw) == 0 {
		return sql.NullString{}
	}
	return sql.NullString{String: string(raw), Valid: true}
}
