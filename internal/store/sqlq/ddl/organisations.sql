-- Organisations are a boundary (issue 15): every SensorThings entity a client writes belongs
-- to the organisation of the key that created it, and a key changes only what its
-- organisation owns (auth.Principal.Owns; the node-wide admin, anything). Observations belong
-- to their Datastream's or MultiDatastream's organisation, HistoricalLocations to their
-- Thing's: they have no column of their own. Rows written before belong to the node's own
-- organisation, auth.NodeOrganisation ("admin"), as does what the node writes itself (demo
-- data, CSV import from the command line).
ALTER TABLE things ADD COLUMN organisation {KEY} NOT NULL DEFAULT 'admin';
ALTER TABLE locations ADD COLUMN organisation {KEY} NOT NULL DEFAULT 'admin';
ALTER TABLE sensors ADD COLUMN organisation {KEY} NOT NULL DEFAULT 'admin';
ALTER TABLE observed_properties ADD COLUMN organisation {KEY} NOT NULL DEFAULT 'admin';
ALTER TABLE features_of_interest ADD COLUMN organisation {KEY} NOT NULL DEFAULT 'admin';
ALTER TABLE datastreams ADD COLUMN organisation {KEY} NOT NULL DEFAULT 'admin';
ALTER TABLE multi_datastreams ADD COLUMN organisation {KEY} NOT NULL DEFAULT 'admin';
