-- +goose Up
-- A later exposure of a stored unit moves only its exposure count in
-- exposures_rollup. The slice_units update trigger of 0030 took the unit's
-- old row back and added its new one, two upserts through the
-- slice_units_change view; now such an update adds the count's change to
-- the unit's slice in one statement, and only an update that moves the
-- unit to another slice (variant, multiple flag, first exposure or
-- channel) takes the old row back and adds the new one. The sums are the
-- same. (The PostgreSQL counterpart of this migration rewrites its
-- statement-level triggers; series_units's trigger here already fires
-- only when the first exposure moves.)
DROP TRIGGER slice_units_updated;

-- +goose StatementBegin
CREATE TRIGGER slice_units_updated AFTER UPDATE ON exposures_rollup
WHEN NEW.first_variant IS NOT OLD.first_variant OR NEW.multiple IS NOT OLD.multiple
	OR NEW.first_exposed_at IS NOT OLD.first_exposed_at OR NEW.channel IS NOT OLD.channel BEGIN
	INSERT INTO slice_units_change VALUES (-1, OLD.experiment, OLD.first_variant, OLD.multiple, OLD.first_exposed_at, OLD.channel,
		OLD.exposures);
	INSERT INTO slice_units_change VALUES (1, NEW.experiment, NEW.first_variant, NEW.multiple, NEW.first_exposed_at, NEW.channel,
		NEW.exposures);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER slice_units_exposed AFTER UPDATE OF exposures ON exposures_rollup
WHEN NEW.exposures IS NOT OLD.exposures AND NEW.first_variant IS OLD.first_variant AND NEW.multiple IS OLD.multiple
	AND NEW.first_exposed_at IS OLD.first_exposed_at AND NEW.channel IS OLD.channel BEGIN
	UPDATE slice_units SET exposures = exposures + NEW.exposures - OLD.exposures
	WHERE experiment = NEW.experiment AND variant = NEW.first_variant AND multiple = NEW.multiple
		AND hour = strftime('%H', NEW.first_exposed_at / 1000000, 'unixepoch') AND channel = NEW.channel AND shard = 0;
END;
-- +goose StatementEnd
