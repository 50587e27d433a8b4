-- Places (package place): provinces, divisions and districts with their boundary, towns and
-- villages (real, imported or synthetic). Written by sqlq.Places (replaced or upserted in
-- batches), read whole at start to build the place.Gazetteer; subscribers refer to places by
-- place_key.
CREATE TABLE places (
  place_key    {KEY} PRIMARY KEY,  -- place.Place.Key: "district:Lahore", "geonames:1172451", "village:…"
  kind         TEXT NOT NULL,      -- province, division, district, town, village
  name         TEXT NOT NULL,
  name_ur      TEXT,               -- the name in Urdu script, where the source has one
  country      TEXT NOT NULL,      -- ISO 3166-1 alpha-2
  province     TEXT,
  division     TEXT,
  district     TEXT,
  lat          {REAL} NOT NULL,    -- WGS 84 degrees
  lon          {REAL} NOT NULL,
  population   {INT} NOT NULL,
  estimated    {FLAG},             -- population is an estimate, not a census figure
  languages    TEXT NOT NULL,      -- BCP 47 tags separated by one space, most spoken first
  connectivity TEXT,               -- fibre, mobile-data, sms-only, none (villages)
  synthetic    {FLAG},             -- generated, not real
  source       TEXT NOT NULL,
  boundary     TEXT                -- GeoJSON geometry (lon/lat) of a region; NULL for a point
);
CREATE INDEX places_kind ON places(kind);
CREATE INDEX places_district ON places(district);
