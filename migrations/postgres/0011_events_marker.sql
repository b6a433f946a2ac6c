-- +goose Up
-- The report snapshots' events marker (experiments.EventsMarker): a
-- sequence advanced after every committed ingest and erasure, so that the
-- marker moves with this database's events only. The transaction horizon
-- used before moves with every write of the whole cluster.
CREATE SEQUENCE events_marker;
