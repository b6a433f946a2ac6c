// Package sqlstore holds the SQL code that the sqlite and postgres stores
// share: the row types of the experiments, flags, api_keys and audit_log
// tables with their conversions to and from the domain types, and the CRUD
// of experiments, flags, API keys and the audit log.
//
// What differs between the databases is behind the small Dialect
// interface: how timestamps are encoded (SQLite INTEGER unix microseconds,
// PostgreSQL timestamptz), how driver errors are mapped to domain error
// kinds (unique violation, not found, unavailable) and how the ID of an
// inserted row is read back. The shared SQL is written with ? placeholders;
// a store whose driver wants another bindvar passes Queryers that rebind
// (sqlx's Rebind), as the postgres store does.
//
// The stores keep their events, segments, cohorts and customers code.
package sqlstore
