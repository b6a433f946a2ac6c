// Package sqlite is the embedded promolift store: one SQLite file opened with
// the pure-Go driver modernc.org/sqlite in WAL mode.
//
// All writes go through a pool of one connection whose transactions begin
// IMMEDIATE, so concurrent writers queue (busy_timeout) instead of failing
// with SQLITE_BUSY; reads use a separate pool and run concurrently with the
// writer. Timestamps are stored as INTEGER unix microseconds (UTC), money as
// INTEGER minor units, and variants, rules, conditions and segments as JSON
// text. The schema comes from package migrations and is brought up to date
// by Open.
//
// Events are stored raw (event_id is the primary key: a re-sent event
// changes nothing) and, in the same transaction, the rollups that analysis
// reads are recomputed for every (experiment, unit) the batch touched:
// exposures_rollup (the unit's first exposure, exposure count, whether it
// saw more than one variant) and unit_metrics (the unit's attributed
// conversions per conversion name). Recomputing from the raw events of the
// touched units makes out-of-order arrival end exactly right.
package sqlite
