-- +goose Up
-- The weight history of bandit experiments (docs/bandit.md): one row per
-- experiment and period, written once (the primary key makes the update of
-- a period idempotent across replicas). weights is a JSON array of
-- {"variant", "weight", "prob_best"} in variant order; units, spend and
-- pacing_target are as of starts_at (money in minor units).
CREATE TABLE bandit_periods (
	experiment    TEXT NOT NULL,
	period        INTEGER NOT NULL CHECK (period >= 0),
	starts_at     TIMESTAMPTZ NOT NULL,
	weights       JSONB NOT NULL,
	units         BIGINT NOT NULL DEFAULT 0,
	spend         DOUBLE PRECISION NOT NULL DEFAULT 0,
	pacing_target DOUBLE PRECISION NOT NULL DEFAULT 0,
	pacing_factor DOUBLE PRECISION NOT NULL DEFAULT 1,
	created_at    TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (experiment, period)
);
