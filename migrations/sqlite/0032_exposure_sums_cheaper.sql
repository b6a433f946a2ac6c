-- +goose Up
-- PostgreSQL only: postgres/0032 inlines slice_hour and has the
-- statement-level triggers of exposures_rollup return at once when they
-- have no rows. SQLite's triggers are per row, fire only for the rows
-- written, and compute the hour inline already. This file keeps the
-- version numbers of both dialects aligned and changes nothing.
SELECT 1;
