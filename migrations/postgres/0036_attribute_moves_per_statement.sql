-- +goose Up
-- The units whose key (variant, multiple flag, attributes) an update of
-- exposures_rollup changed move their unit_metrics rows between attribute
-- sums in the statement-level trigger, in one grouped upsert, instead of a
-- row-level trigger with an upsert (and a search for keys to delete) per
-- unit. A bulk rewrite of stored attributes ran one of those per row: an
-- UPDATE of 770,000 units did not end in 40 minutes. Row-level AFTER
-- triggers fire at the end of the statement as statement-level ones do,
-- so both read the same unit_metrics rows and the sums are the same.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION attr_units_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM new_rows WHERE attributes IS NOT NULL) OR EXISTS (SELECT FROM old_rows WHERE attributes IS NOT NULL) THEN
		PERFORM attr_units_apply(ARRAY(SELECT attr_unit_change(-1, o) FROM old_rows o WHERE o.attributes IS NOT NULL
			UNION ALL SELECT attr_unit_change(1, n) FROM new_rows n WHERE n.attributes IS NOT NULL));
		PERFORM attr_metrics_apply(ARRAY(
			SELECT c FROM old_rows o JOIN new_rows n ON n.experiment = o.experiment AND n.unit_id = o.unit_id
			CROSS JOIN LATERAL (SELECT attr_row_metrics(-1, o) UNION ALL SELECT attr_row_metrics(1, n)) m(c)
			WHERE (o.attributes IS NOT NULL OR n.attributes IS NOT NULL)
				AND (o.first_variant, o.multiple, o.attributes) IS DISTINCT FROM (n.first_variant, n.multiple, n.attributes)));
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd

DROP TRIGGER attr_units_moved ON exposures_rollup;
DROP FUNCTION attr_units_moved();
