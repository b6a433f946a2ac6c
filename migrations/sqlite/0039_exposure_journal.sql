-- +goose Up
-- The exposure journal (issue 17; experiments/exposurejournal.go): the
-- group commit of exposures appends each batch as one row (its events as
-- JSON, sqlstore/journal.go) and acknowledges it once committed; the fold
-- moves the oldest rows into events and the rollups in the transaction
-- that deletes them. AUTOINCREMENT: a seq is never reused, so that a fold
-- "through" a seq read earlier never takes a row appended after.
CREATE TABLE exposure_journal (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    events TEXT NOT NULL
);

