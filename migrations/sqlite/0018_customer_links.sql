-- +goose Up
-- Issue 22: erasure of the units linked to a customer, and exposures that
-- keep only the attributes analysis needs (docs/security.md, "Erasure" and
-- "Data kept"). Written so that running it twice changes nothing more.

-- Links between a customer (the unit attribute "id") and the other units
-- of theirs that rows are keyed by: the value of the attribute an
-- experiment hashes on (device_id, anonymous_id, ...) when a request named
-- the customer too, or an event's unit_id sent with a customer_id. Recorded
-- in the transaction that stores the rows keyed by the unit. Erasing the
-- customer erases every row keyed by the customer or a linked unit, and
-- the links themselves (the erasure deletes by customer_id and unit_id).
CREATE TABLE IF NOT EXISTS customer_links (
	customer_id TEXT NOT NULL,
	attribute   TEXT NOT NULL,
	unit_id     TEXT NOT NULL,
	linked_at   INTEGER NOT NULL,
	PRIMARY KEY (customer_id, attribute, unit_id)
);
CREATE INDEX IF NOT EXISTS customer_links_unit ON customer_links (unit_id);

-- The attributes stored before this version that analysis does not need:
-- an exposure keeps those its experiment breaks down by (segments) and
-- rfm_segment, aipl_stage, never a unit ID (id, targetingKey, the unit and
-- fallback attributes); a conversion keeps none. The raw events and the
-- rollups (copied from a unit's first exposure) are rewritten alike, so
-- they still agree.
UPDATE events SET attributes = (
	SELECT NULLIF(json_group_object(j.key, j.value), '{}')
	FROM json_each(events.attributes) j JOIN experiments x ON x.key = events.experiment
	WHERE j.key NOT IN ('', 'id', 'targetingKey', x.unit_attribute, x.fallback_attribute)
		AND (j.key IN ('rfm_segment', 'aipl_stage') OR j.key IN (SELECT s.value FROM json_each(x.segments) s)))
WHERE type = 'exposure' AND attributes IS NOT NULL;
UPDATE events SET attributes = NULL WHERE type <> 'exposure' AND attributes IS NOT NULL;
UPDATE exposures_rollup SET attributes = (
	SELECT NULLIF(json_group_object(j.key, j.value), '{}')
	FROM json_each(exposures_rollup.attributes) j JOIN experiments x ON x.key = exposures_rollup.experiment
	WHERE j.key NOT IN ('', 'id', 'targetingKey', x.unit_attribute, x.fallback_attribute)
		AND (j.key IN ('rfm_segment', 'aipl_stage') OR j.key IN (SELECT s.value FROM json_each(x.segments) s)))
WHERE attributes IS NOT NULL;
