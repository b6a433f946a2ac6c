-- +goose Up
-- PostgreSQL only: postgres/0035 groups the changes of the attribute sums'
-- statement-level triggers by attribute set before taking the sets apart.
-- SQLite's triggers are per row and take one row's attributes apart once.
-- This file keeps the version numbers of both dialects aligned and changes
-- nothing.
SELECT 1;
