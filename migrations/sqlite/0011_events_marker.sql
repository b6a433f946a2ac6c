-- +goose Up
-- PostgreSQL's events marker sequence (0011). SQLite's marker is the newest
-- rowid of events and needs no schema: this file keeps the versions of both
-- dialects in step.
SELECT 1;
