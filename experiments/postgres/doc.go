// Package postgres is the production promolift store on PostgreSQL, with
// sqlx and lib/pq.
//
// Timestamps are timestamptz, money BIGINT minor units, and variants,
// rules, conditions and segments jsonb. The schema comes from package
// migrations and is brought up to date by Open (goose, under an advisory
// lock), so several replicas may start at once.
//
// The events table is partitioned by month of ts (partitions.go): the
// partitions a batch needs are created before its transaction, and old
// months are dropped whole for retention (DropEventsBefore). An event batch
// is copied (COPY) into a temporary staging table; its ids go into the
// unpartitioned event_ids table (events of no environment) or event_ids_env
// (an id is unique within its environment) with INSERT ... ON CONFLICT DO
// NOTHING RETURNING, which says which events are new, and only those are
// moved into events; in the same transaction the new events are folded
// into the rollups: exposures are merged into exposures_rollup (the least
// (ts, event_id) is the first exposure), conversions are added to
// unit_metrics and to their day's row of unit_metrics_daily (the same
// sums split by UTC day, which the daily series reads), to their week's
// row of unit_weeks (every conversion from the pre-period on, by week since
// the first exposure, which the pre-period sums and the cohorts read) and
// to unit_orders (per credited channel and net order value, summed per
// variant into variant_orders once per transaction, sqlstore/orders.go),
// and the units whose exposures changed have their attributed conversions
// rebuilt from the raw events. Before that, the
// transaction takes transaction-scoped advisory locks on the hash buckets
// of the batch's units, in ascending order: batches that share a unit are
// serialized (no double counting, no lost update), batches that do not run
// in parallel, and the fixed order rules out deadlocks between them.
package postgres
