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
// Events are stored raw ((event_id, environment) is the primary key: a
// re-sent event changes nothing) and, in the same transaction, the events the batch
// stored are folded into the rollups that analysis reads: exposures_rollup
// (the unit's first exposure — the least (ts, event_id) —, exposure count,
// whether it saw more than one variant) takes the new exposures with an
// upsert, and unit_metrics (the unit's attributed conversions per
// conversion name, with its variant) and unit_metrics_daily (the same
// split by UTC day, which the daily series reads), unit_weeks (every
// conversion from the pre-period on, by week since the first exposure,
// which the pre-period sums and the cohorts read) and unit_orders (per
// credited channel and net order value, summed per variant into
// variant_orders by triggers) take the new conversions; a unit
// whose exposures changed has its attributed conversions rebuilt from its
// raw events, so out-of-order arrival ends exactly right.
package sqlite
