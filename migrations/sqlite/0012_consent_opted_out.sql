-- +goose Up
-- The units that opted out of promotions, read as one set by the
-- service (experiments/consentcache.go) instead of once per new customer.
CREATE INDEX customer_consent_opted_out ON customer_consent (unit_id) WHERE NOT promotions;
