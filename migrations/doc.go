// Package migrations holds the database schema of promolift as numbered,
// forward-only SQL files, embedded in the binary: sqlite/NNNN_name.sql for
// the embedded SQLite store and postgres/NNNN_name.sql for PostgreSQL.
//
// Apply runs them with goose (github.com/pressly/goose/v3, its Provider
// API on the embedded files of one dialect). goose does for us:
//
//   - the file format: each file starts with the line "-- +goose Up"; goose
//     splits it into statements at semicolons ending a line, except between
//     "-- +goose StatementBegin" and "-- +goose StatementEnd" (PostgreSQL
//     DO $$ blocks and functions, SQLite triggers);
//   - the bookkeeping: each file runs in its own transaction together with
//     its row in goose's table goose_db_version, so a failing file leaves
//     nothing behind and its version unrecorded;
//   - the order: pending files run in version order, and one numbered below
//     the newest applied one is applied too (versions are assigned to
//     changes in parallel and may land in any order);
//   - the lock: on PostgreSQL goose's session locker (a session advisory
//     lock, polled every second for up to ten minutes) keyed by the schema
//     the migrations work in, so replicas starting at once apply each file
//     once. goose has no locker for SQLite; ours (sqlitelock.go) holds an
//     exclusive transaction on a second, empty SQLite file next to the
//     database, <database>-migrate.lock, which the operating system
//     releases when a process dies;
//   - Status, which `promolift migrate` prints.
//
// What goose does not do, Apply does first, in one transaction under the
// same lock: it creates goose's table, adopts the old runner's table and
// refuses a database whose version is newer than this binary's files
// (migrations never go backwards).
//
// Adoption. Before goose, promolift recorded applied versions in its own
// table schema_migrations (version, name, applied_at). On the first start
// with goose every version listed there is recorded in goose_db_version
// without running its file again (goose's timestamp is then the adoption),
// and only the newer files run. schema_migrations stays, with one more row,
// version 2147483647 "adopted into goose_db_version": an older promolift
// refuses a database whose version is above its own ("upgrade promolift")
// instead of migrating it again. On PostgreSQL the adoption first waits
// for the old runner's advisory lock, so an older replica still migrating
// during a rolling upgrade finishes before its versions are adopted.
//
// Both dialects have the same versions, so that one number names one
// feature level. A change that concerns one dialect only still has a file
// of its version in the other, which changes nothing and says why
// (sqlite/0008_partitions.sql: the events partitions are PostgreSQL only).
package migrations
