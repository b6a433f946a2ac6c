package postgres

// The row types of the shared tables live in package sqlstore; these
// helpers encode the columns of this store's own queries.

import (
	"database/sql"
	"time"
)

// micros converts t to a nullable UTC timestamp with microsecond
// precision (what timestamptz keeps), NULL for the zero time.
func micros(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC().Truncate(time.Microsecond), Valid: true}
}

// nullJSON returns raw as a nullable text column.
func nullJSON(raw []byte) sql.NullString {
	if len(raw) == 0 {
		return sql.NullString{}
	}
	return sql.NullString{String: string(raw), Valid: true}
}
