-- The MultiDatastream extension (SensorThings 1.1, OGC 18-088 §9). A MultiDatastream is a
-- Datastream whose Observations have an array result, one element per ObservedProperty; its
-- unit_of_measurements and multi_observation_data_types are JSON arrays of the same length and
-- order as its ObservedProperties, which multi_datastream_observed_properties lists by rank
-- (0, 1, …). Times are microseconds since the Unix epoch (UTC), as in sensing.sql. Ids are never
-- reused ({SERIAL}).
CREATE TABLE multi_datastreams (
  id                           {SERIAL},
  name                         {KEY} NOT NULL,
  description                  {KEY} NOT NULL,
  unit_of_measurements         TEXT NOT NULL,
  observation_type             {KEY} NOT NULL,
  multi_observation_data_types TEXT NOT NULL,
  observed_area                TEXT,
  phenomenon_time_start        {INT},
  phenomenon_time_end          {INT},
  result_time_start            {INT},
  result_time_end              {INT},
  properties                   TEXT,
  thing_id                     {INT} NOT NULL REFERENCES things(id) ON DELETE CASCADE,
  sensor_id                    {INT} NOT NULL REFERENCES sensors(id) ON DELETE CASCADE
);
CREATE INDEX multi_datastreams_thing ON multi_datastreams(thing_id);
CREATE INDEX multi_datastreams_sensor ON multi_datastreams(sensor_id);
CREATE TABLE multi_datastream_observed_properties (
  multi_datastream_id  {INT} NOT NULL REFERENCES multi_datastreams(id) ON DELETE CASCADE,
  observed_property_id {INT} NOT NULL REFERENCES observed_properties(id) ON DELETE CASCADE,
  rank                 {INT} NOT NULL,
  PRIMARY KEY (multi_datastream_id, rank)
);
CREATE INDEX multi_datastream_observed_properties_op ON multi_datastream_observed_properties(observed_property_id);
-- An Observation belongs to exactly one Datastream or one MultiDatastream: datastream_id
-- becomes nullable, multi_datastream_id is added, and a CHECK holds them to one of the two.
-- PostgreSQL changes its partitioned table in place (the partitions follow); SQLite cannot drop
-- a NOT NULL, so it copies the table into a new one (SQLite's documented way to change a
-- table: https://sqlite.org/lang_altertable.html#otheralter), ids and rows unchanged, and
-- carries the AUTOINCREMENT sequence over (sqlite_sequence goes with the table's name through
-- the rename), so that an id deleted before is not given again.
--postgres: ALTER TABLE observations ALTER COLUMN datastream_id DROP NOT NULL;
--postgres: ALTER TABLE observations ADD COLUMN multi_datastream_id BIGINT REFERENCES multi_datastreams(id) ON DELETE CASCADE;
--postgres: ALTER TABLE observations ADD CONSTRAINT observations_one_stream CHECK ((datastream_id IS NULL) <> (multi_datastream_id IS NULL));
--sqlite: CREATE TABLE observations_new (
--sqlite:   id               INTEGER PRIMARY KEY AUTOINCREMENT,
--sqlite:   datastream_id    INTEGER REFERENCES datastreams(id) ON DELETE CASCADE,
--sqlite:   phen_start       INTEGER NOT NULL,
--sqlite:   phen_end         INTEGER NOT NULL,
--sqlite:   phen_text        TEXT NOT NULL,
--sqlite:   result_time_us   INTEGER,
--sqlite:   result_time_text TEXT,
--sqlite:   result_num       REAL,
--sqlite:   result_json      TEXT,
--sqlite:   qc               INTEGER NOT NULL DEFAULT 0,
--sqlite:   result_quality   TEXT,
--sqlite:   valid_start      INTEGER,
--sqlite:   valid_end        INTEGER,
--sqlite:   valid_text       TEXT,
--sqlite:   parameters       TEXT,
--sqlite:   foi_id           INTEGER REFERENCES features_of_interest(id) ON DELETE CASCADE,
--sqlite:   multi_datastream_id INTEGER REFERENCES multi_datastreams(id) ON DELETE CASCADE,
--sqlite:   CONSTRAINT observations_one_stream CHECK ((datastream_id IS NULL) <> (multi_datastream_id IS NULL))
--sqlite: );
--sqlite: INSERT INTO observations_new (id, datastream_id, phen_start, phen_end, phen_text, result_time_us, result_time_text, result_num, result_json, qc, result_quality, valid_start, valid_end, valid_text, parameters, foi_id)
--sqlite:   SELECT id, datastream_id, phen_start, phen_end, phen_text, result_time_us, result_time_text, result_num, result_json, qc, result_quality, valid_start, valid_end, valid_text, parameters, foi_id FROM observations;
--sqlite: INSERT INTO sqlite_sequence (name, seq) SELECT 'observations_new', 0
--sqlite:   WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'observations_new');
--sqlite: UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'observations'), 0))
--sqlite:   WHERE name = 'observations_new';
--sqlite: DROP TABLE observations;
--sqlite: ALTER TABLE observations_new RENAME TO observations;
--sqlite: CREATE INDEX observations_datastream_time ON observations(datastream_id, phen_start, phen_end);
--sqlite: CREATE INDEX observations_foi ON observations(foi_id);
CREATE INDEX observations_multi_datastream_time ON observations(multi_datastream_id, phen_start, phen_end);
