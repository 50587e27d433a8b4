-- SensorThings Sensing entities. Times are microseconds since the Unix epoch (UTC), and the
-- text columns *_text keep an instant or interval exactly as the client sent it. JSON
-- documents are kept as text, byte for byte as the client sent them. Text that filters compare
-- compares byte-wise in both engines (PostgreSQL: COLLATE "C").
CREATE TABLE things (
  id          {ID},
  name        {KEY} NOT NULL,
  description {KEY} NOT NULL,
  properties  TEXT
);
CREATE TABLE locations (
  id            {ID},
  name          {KEY} NOT NULL,
  description   {KEY} NOT NULL,
  encoding_type {KEY} NOT NULL,
  location      TEXT NOT NULL,
  properties    TEXT
);
CREATE TABLE thing_locations (
  thing_id    {INT} NOT NULL REFERENCES things(id) ON DELETE CASCADE,
  location_id {INT} NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
  PRIMARY KEY (thing_id, location_id)
);
CREATE INDEX thing_locations_location ON thing_locations(location_id);
CREATE TABLE historical_locations (
  id        {ID},
  thing_id  {INT} NOT NULL REFERENCES things(id) ON DELETE CASCADE,
  time_us   {INT} NOT NULL,
  time_text TEXT NOT NULL
);
CREATE INDEX historical_locations_thing ON historical_locations(thing_id, time_us);
CREATE TABLE historical_location_locations (
  historical_location_id {INT} NOT NULL REFERENCES historical_locations(id) ON DELETE CASCADE,
  location_id            {INT} NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
  PRIMARY KEY (historical_location_id, location_id)
);
CREATE INDEX hll_location ON historical_location_locations(location_id);
CREATE TABLE sensors (
  id            {ID},
  name          {KEY} NOT NULL,
  description   {KEY} NOT NULL,
  encoding_type {KEY} NOT NULL,
  metadata      TEXT NOT NULL,
  properties    TEXT
);
CREATE TABLE observed_properties (
  id          {ID},
  name        {KEY} NOT NULL,
  definition  {KEY} NOT NULL,
  description {KEY} NOT NULL,
  properties  TEXT
);
CREATE TABLE datastreams (
  id                    {ID},
  name                  {KEY} NOT NULL,
  description           {KEY} NOT NULL,
  unit_of_measurement   TEXT NOT NULL,
  observation_type      {KEY} NOT NULL,
  observed_area         TEXT,
  phenomenon_time_start {INT},
  phenomenon_time_end   {INT},
  result_time_start     {INT},
  result_time_end       {INT},
  properties            TEXT,
  thing_id              {INT} NOT NULL REFERENCES things(id) ON DELETE CASCADE,
  sensor_id             {INT} NOT NULL REFERENCES sensors(id) ON DELETE CASCADE,
  observed_property_id  {INT} NOT NULL REFERENCES observed_properties(id) ON DELETE CASCADE
);
CREATE INDEX datastreams_thing ON datastreams(thing_id);
CREATE INDEX datastreams_sensor ON datastreams(sensor_id);
CREATE INDEX datastreams_observed_property ON datastreams(observed_property_id);
--postgres: CREATE INDEX datastreams_name ON datastreams(name);
CREATE TABLE features_of_interest (
  id            {ID},
  name          {KEY} NOT NULL,
  description   {KEY} NOT NULL,
  encoding_type {KEY} NOT NULL,
  feature       TEXT NOT NULL,
  properties    TEXT,
  -- set when the feature was made from a Thing's Location (an Observation created without a
  -- FeatureOfInterest), so that the next one reuses it
  location_id   {INT} UNIQUE REFERENCES locations(id) ON DELETE SET NULL
);
-- One row per observation. result_num holds numeric results; result_json any other JSON value.
-- qc is the quality-control flag (0 good, 1 suspect, 2 bad); result_quality its JSON detail.
-- PostgreSQL partitions it by phenomenon time (phen_start): one partition per calendar month
-- (UTC), named observations_pYYYYMM, created by the ingest path when a month is first
-- written; dropping a partition is how old observations are removed (DB.Retain). On both
-- engines an id is never given twice, even after a delete (SQLite: AUTOINCREMENT). Its ids come
-- from observations_id_seq (the ingest path reserves them, then COPYs the rows), and its
-- primary key must hold the partition key, so it is (id, phen_start).
--postgres: CREATE SEQUENCE observations_id_seq;
CREATE TABLE observations (
--sqlite:   id             INTEGER PRIMARY KEY AUTOINCREMENT,
--postgres: id             BIGINT NOT NULL DEFAULT nextval('observations_id_seq'),
  datastream_id    {INT} NOT NULL REFERENCES datastreams(id) ON DELETE CASCADE,
  phen_start       {INT} NOT NULL,
  phen_end         {INT} NOT NULL,
  phen_text        TEXT NOT NULL,
  result_time_us   {INT},
  result_time_text TEXT,
  result_num       {REAL},
  result_json      TEXT,
  qc               {SMALLINT} NOT NULL DEFAULT 0,
  result_quality   TEXT,
  valid_start      {INT},
  valid_end        {INT},
  valid_text       TEXT,
  parameters       TEXT,
  foi_id           {INT} REFERENCES features_of_interest(id) ON DELETE CASCADE
--postgres: , PRIMARY KEY (id, phen_start)
--sqlite: );
--postgres: ) PARTITION BY RANGE (phen_start);
--postgres: ALTER SEQUENCE observations_id_seq OWNED BY observations.id;
CREATE INDEX observations_datastream_time ON observations(datastream_id, phen_start, phen_end);
CREATE INDEX observations_foi ON observations(foi_id);
