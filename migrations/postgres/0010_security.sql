-- +goose Up
-- Audit entries name the environment of their resource ('' for what
-- belongs to none, such as a customer or a cap group), so that a key bound
-- to an environment lists only that environment's entries.
ALTER TABLE audit_log ADD COLUMN environment TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET environment = COALESCE((SELECT environment FROM experiments WHERE 'experiment:' || experiments.key = audit_log.resource), '')
WHERE resource LIKE 'experiment:%';
UPDATE audit_log SET environment = COALESCE((SELECT environment FROM flags WHERE 'flag:' || flags.key = audit_log.resource), '')
WHERE resource LIKE 'flag:%';
UPDATE audit_log SET environment = COALESCE((SELECT environment FROM api_keys WHERE 'key:' || api_keys.id = audit_log.resource), '')
WHERE resource LIKE 'key:%';
