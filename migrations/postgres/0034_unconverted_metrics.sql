-- +goose Up
-- The unit_metrics rows without conversions (conversions <= 0: refunded or
-- costed only) by experiment, so that the promotion spend of a variant
-- (Store.VariantSpend) adds the cost sums of slice_metrics, which cover
-- the rows with conversions, and these few rows instead of reading every
-- unit's rows (issue 17).
CREATE INDEX unit_metrics_unconverted ON unit_metrics (experiment) WHERE conversions <= 0;
