-- +goose Up
-- Experiment-level analysis settings the report passes to stats.Analyze
-- (docs/report.md, "One-sided tests, lower-is-better metrics and planned MDE"):
-- the test's alternative, the metrics whose decrease is an improvement (a JSON
-- array, in addition to the name rule) and the planned relative MDE (0: the
-- default 5%).
ALTER TABLE experiments ADD COLUMN alternative TEXT NOT NULL DEFAULT 'two-sided';
ALTER TABLE experiments ADD COLUMN lower_is_better_metrics TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(lower_is_better_metrics));
ALTER TABLE experiments ADD COLUMN planned_mde REAL NOT NULL DEFAULT 0;
