-- +goose Up
-- The exposure journal (issue 17; experiments/exposurejournal.go): the
-- group commit of exposures appends each batch as one row (its events as
-- JSON, sqlstore/journal.go) and acknowledges it once committed; the fold
-- moves the oldest rows into events and the rollups in the transaction
-- that deletes them, one fold at a time (an advisory lock).
CREATE TABLE exposure_journal (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    events TEXT NOT NULL
);

