-- +goose Up
-- Sticky assignments stored server-side (issue 4): one GrowthBook sticky
-- bucket doc per unit attribute and value. The value is in unit_id so that
-- customer erasure (which deletes from every table with a unit_id column)
-- erases these rows too. assignments is a JSON object
-- {"<experimentKey>__<bucketVersion>": "<variantKey>"}.
CREATE TABLE sticky_assignments (
	attribute_name TEXT NOT NULL,
	unit_id        TEXT NOT NULL,
	assignments    JSONB NOT NULL,
	updated_at     TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (attribute_name, unit_id)
);
CREATE INDEX sticky_assignments_unit ON sticky_assignments (unit_id);
