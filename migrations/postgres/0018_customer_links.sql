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
	linked_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (customer_id, attribute, unit_id)
);
CREATE INDEX IF NOT EXISTS customer_links_unit ON customer_links (unit_id);

-- The attributes stored before this version that analysis does not need:
-- an exposure keeps those its experiment breaks down by (segments) and
-- rfm_segment, aipl_stage, never a unit ID (id, targetingKey, the unit and
-- fallback attributes); a conversion keeps none. The raw events and the
-- rollups (copied from a unit's first exposure) are rewritten alike, so
-- they still agree. Only the rows that hold such an attribute are
-- rewritten.
CREATE TEMP TABLE kept_attributes ON COMMIT DROP AS
	SELECT x.key AS experiment, k AS attribute FROM experiments x,
		LATERAL (SELECT jsonb_array_elements_text(x.segments) UNION SELECT 'rfm_segment' UNION SELECT 'aipl_stage') s(k)
	WHERE k NOT IN ('', 'id', 'targetingKey', x.unit_attribute, x.fallback_attribute);
UPDATE events e SET attributes = (
	SELECT jsonb_object_agg(j.key, j.value) FROM jsonb_each(e.attributes) j
	JOIN kept_attributes k ON k.experiment = e.experiment AND k.attribute = j.key)
WHERE e.type = 'exposure' AND e.attributes IS NOT NULL AND EXISTS (
	SELECT 1 FROM jsonb_each(e.attributes) j
	WHERE NOT EXISTS (SELECT 1 FROM kept_attributes k WHERE k.experiment = e.experiment AND k.attribute = j.key));
UPDATE events SET attributes = NULL WHERE type <> 'exposure' AND attributes IS NOT NULL;
UPDATE exposures_rollup r SET attributes = (
	SELECT jsonb_object_agg(j.key, j.value) FROM jsonb_each(r.attributes) j
	JOIN kept_attributes k ON k.experiment = r.experiment AND k.attribute = j.key)
WHERE r.attributes IS NOT NULL AND EXISTS (
	SELECT 1 FROM jsonb_each(r.attributes) j
	WHERE NOT EXISTS (SELECT 1 FROM kept_attributes k WHERE k.experiment = r.experiment AND k.attribute = j.key));
