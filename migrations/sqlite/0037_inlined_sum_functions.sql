-- +goose Up
-- PostgreSQL only: postgres/0037 makes the SQL functions of the sums'
-- triggers inlinable. SQLite has no such functions. This file keeps the
-- version numbers of both dialects aligned and changes nothing.
SELECT 1;
