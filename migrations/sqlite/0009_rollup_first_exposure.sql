-- +goose Up
-- The report's reads of raw conversions (the CUPED pre-period and the
-- repurchase cohorts) are bounded by the earliest and the latest first
-- exposure of the experiment's units, so that PostgreSQL reads only the
-- monthly partitions of events in between. This index answers both bounds
-- with two index probes instead of a scan of the experiment's units.
CREATE INDEX exposures_rollup_first ON exposures_rollup (experiment, first_exposed_at);
