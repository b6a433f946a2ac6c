-- +goose Up
-- PostgreSQL only: postgres/0036 moves the unit_metrics rows of units
-- whose key changed in the statement-level trigger instead of one trigger
-- call per row. SQLite's triggers are per row and update the sums in
-- place. This file keeps the version numbers of both dialects aligned and
-- changes nothing.
SELECT 1;
