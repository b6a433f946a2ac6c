// Package migrations holds the database schema of promolift as numbered,
// forward-only SQL files, embedded in the binary: sqlite/NNNN_name.sql for
// the embedded SQLite store and postgres/NNNN_name.sql for PostgreSQL.
//
// Apply runs the files not yet applied, in order, each in its own
// transaction, and records each version in the table schema_migrations.
// On PostgreSQL it holds a session advisory lock while it works, so several
// replicas starting at once apply each file exactly once. A database whose
// schema is newer than the files of this binary is an error: migrations
// never go backwards.
//
// Both dialects have the same versions, so that one number names one
// feature level. A change that concerns one dialect only still has a file
// of its version in the other, which changes nothing and says why
// (sqlite/0008_partitions.sql: the events partitions are PostgreSQL only).
package migrations
