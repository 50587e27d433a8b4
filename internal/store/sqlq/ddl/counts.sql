-- How many observations each Datastream and each MultiDatastream has, kept exact inside the
-- transactions that add or remove observations (sqlq/counts.go: bumpCounts from the ingest
-- path, countsGone/countsMoved from deletes and updates, PostgreSQL's Retain for the
-- partitions it drops; a Datastream's row goes with it by cascade). $count on a
-- Datastream's (or MultiDatastream's) Observations, and on /Observations, without $filter,
-- reads n here instead of counting rows (SensorThings 1.1, 9.3.3.4: the count is exact).
-- Migration 0018 creates them and fills them from the observations already stored.
CREATE TABLE observation_counts (
  datastream_id {INT} PRIMARY KEY REFERENCES datastreams(id) ON DELETE CASCADE,
  n             {INT} NOT NULL DEFAULT 0
);
CREATE TABLE multi_observation_counts (
  multi_datastream_id {INT} PRIMARY KEY REFERENCES multi_datastreams(id) ON DELETE CASCADE,
  n                   {INT} NOT NULL DEFAULT 0
);
INSERT INTO observation_counts (datastream_id, n)
  SELECT datastream_id, count(*) FROM observations WHERE datastream_id IS NOT NULL GROUP BY datastream_id;
INSERT INTO multi_observation_counts (multi_datastream_id, n)
  SELECT multi_datastream_id, count(*) FROM observations WHERE multi_datastream_id IS NOT NULL GROUP BY multi_datastream_id;
-- A time window across Datastreams (/Observations?$filter=phenomenonTime ge … and
-- phenomenonTime lt …) reads this index instead of every observation (PostgreSQL: one per
-- monthly partition, the window's months only).
CREATE INDEX observations_time ON observations(phen_start);
