-- +goose Up
-- How an experiment splits its traffic (docs/bandit.md): NULL for a fixed
-- split by the variants' weights, else a JSON object {"mode": "bandit",
-- "update_every_us", "min_weight", "budget", "flight_us"}.
ALTER TABLE experiments ADD COLUMN allocation JSONB;
