-- +goose Up
-- PostgreSQL only: postgres/0008_partitions.sql partitions the events table
-- by month and moves the exactly-once check to event_ids. SQLite has no
-- table partitioning, so its events table keeps event_id as its primary
-- key and there is no retention by partition. This file keeps the version
-- numbers of both dialects aligned (the same number means the same
-- feature level) and changes nothing.
SELECT 1;
