-- SensorThings Sensing entities. Times are INTEGER microseconds since the Unix epoch (UTC),
-- and the text columns *_text keep an instant or interval exactly as the client sent it.
CREATE TABLE things (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  description TEXT NOT NULL,
  properties  TEXT
);
CREATE TABLE locations (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  description   TEXT NOT NULL,
  encoding_type TEXT NOT NULL,
  location      TEXT NOT NULL,
  properties    TEXT
);
CREATE TABLE thing_locations (
  thing_id    INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
  location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
  PRIMARY KEY (thing_id, location_id)
);
CREATE INDEX thing_locations_location ON thing_locations(location_id);
CREATE TABLE historical_locations (
  id        INTEGER PRIMARY KEY,
  thing_id  INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
  time_us   INTEGER NOT NULL,
  time_text TEXT NOT NULL
);
CREATE INDEX historical_locations_thing ON historical_locations(thing_id, time_us);
CREATE TABLE historical_location_locations (
  historical_location_id INTEGER NOT NULL REFERENCES historical_locations(id) ON DELETE CASCADE,
  location_id            INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
  PRIMARY KEY (historical_location_id, location_id)
);
CREATE INDEX hll_location ON historical_location_locations(location_id);
CREATE TABLE sensors (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  description   TEXT NOT NULL,
  encoding_type TEXT NOT NULL,
  metadata      TEXT NOT NULL,
  properties    TEXT
);
CREATE TABLE observed_properties (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  definition  TEXT NOT NULL,
  description TEXT NOT NULL,
  properties  TEXT
);
CREATE TABLE datastreams (
  id                    INTEGER PRIMARY KEY,
  name                  TEXT NOT NULL,
  description           TEXT NOT NULL,
  unit_of_measurement   TEXT NOT NULL,
  observation_type      TEXT NOT NULL,
  observed_area         TEXT,
  phenomenon_time_start INTEGER,
  phenomenon_time_end   INTEGER,
  result_time_start     INTEGER,
  result_time_end       INTEGER,
  properties            TEXT,
  thing_id              INTEGER NOT NULL REFERENCES things(id) ON DELETE CASCADE,
  sensor_id             INTEGER NOT NULL REFERENCES sensors(id) ON DELETE CASCADE,
  observed_property_id  INTEGER NOT NULL REFERENCES observed_properties(id) ON DELETE CASCADE
);
CREATE INDEX datastreams_thing ON datastreams(thing_id);
CREATE INDEX datastreams_sensor ON datastreams(sensor_id);
CREATE INDEX datastreams_observed_property ON datastreams(observed_property_id);
CREATE TABLE features_of_interest (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  description   TEXT NOT NULL,
  encoding_type TEXT NOT NULL,
  feature       TEXT NOT NULL,
  properties    TEXT,
  -- location_id is set when the feature was made from a Thing's Location (an Observation
  -- created without a FeatureOfInterest), so that the next one reuses it.
  location_id   INTEGER UNIQUE REFERENCES locations(id) ON DELETE SET NULL
);
-- One row per observation. result_num holds numeric results; result_json any other JSON value.
-- qc is the quality-control flag (0 good, 1 suspect, 2 bad); result_quality its JSON detail.
CREATE TABLE observations (
  id             INTEGER PRIMARY KEY,
  datastream_id  INTEGER NOT NULL REFERENCES datastreams(id) ON DELETE CASCADE,
  phen_start     INTEGER NOT NULL,
  phen_end       INTEGER NOT NULL,
  phen_text      TEXT NOT NULL,
  result_time_us INTEGER,
  result_time_text TEXT,
  result_num     REAL,
  result_json    TEXT,
  qc             INTEGER NOT NULL DEFAULT 0,
  result_quality TEXT,
  valid_start    INTEGER,
  valid_end      INTEGER,
  valid_text     TEXT,
  parameters     TEXT,
  foi_id         INTEGER REFERENCES features_of_interest(id) ON DELETE CASCADE
);
CREATE INDEX observations_datastream_time ON observations(datastream_id, phen_start, phen_end);
CREATE INDEX observations_foi ON observations(foi_id);
