-- The node's river network for flood forecasting (issue 13; package forecasting,
-- docs/forecast.md "Forecasts in the node"): one network per node, owned by the organisation
-- that stored it (only its admins, or the node-wide admin, replace it). Its stations name the
-- Thing and the discharge Datastream that observe them and the forecast Datastream the node
-- writes its forecasts into (0 or NULL: none); its reaches carry the routing parameters
-- (forecast.ReachModel as JSON, the document's keys k_h, x, m …; NULL: not calibrated, the
-- forecaster's defaults); settings holds the model's other options (correction, warm-up …). The ids are
-- not foreign keys: a Thing or Datastream deleted later leaves its station unobserved (the
-- forecasting service skips it and logs it) instead of deleting part of the network, and ids
-- are never reused on either engine. Times are Unix microseconds.
CREATE TABLE forecast_network (
  id           {INT} PRIMARY KEY CHECK (id = 1),
  organisation {KEY} NOT NULL,
  name         TEXT NOT NULL,
  step_us      {INT} NOT NULL,
  settings     TEXT NOT NULL,
  updated_us   {INT} NOT NULL,
  updated_by   TEXT NOT NULL
);
CREATE TABLE forecast_stations (
  station      {KEY} PRIMARY KEY,
  ord          {INT} NOT NULL,
  name         TEXT NOT NULL,
  river        TEXT NOT NULL,
  lat          {REAL},
  lon          {REAL},
  approx       {INT} NOT NULL DEFAULT 0,
  source       TEXT NOT NULL DEFAULT '',
  thing_id     {INT},
  discharge_id {INT},
  forecast_id  {INT}
);
CREATE TABLE forecast_reaches (
  from_station   {KEY} NOT NULL REFERENCES forecast_stations(station) ON DELETE CASCADE,
  to_station     {KEY} NOT NULL REFERENCES forecast_stations(station) ON DELETE CASCADE,
  ord            {INT} NOT NULL,
  length_km      {REAL} NOT NULL,
  travel_time_us {INT} NOT NULL,
  model          TEXT,
  PRIMARY KEY (from_station, to_station)
);
