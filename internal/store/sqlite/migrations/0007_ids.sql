-- Ids are never reused (issue 9). Without AUTOINCREMENT SQLite gives a new row max(id)+1, so
-- deleting the newest Sensor and creating another gave the new one the old id: an old URL or
-- MQTT topic then named a different entity. Databases made before this migration get
-- AUTOINCREMENT by the procedure SQLite documents for schema changes that leave the stored
-- format alone (https://sqlite.org/lang_altertable.html#otheralter): AUTOINCREMENT changes
-- only how the next rowid is chosen, so the tables' text in sqlite_schema is edited in place
-- (a rebuild would copy every observation, and dropping the old tables would cascade), and
-- sqlite_sequence is seeded with each table's highest id. An id deleted at the top before this
-- migration ran is not known any more and may be given once again; none after it.
-- Tables made with AUTOINCREMENT already (a database created by this version) are left as
-- they are; the edit gives the same text as creating them anew (testdata/schema.golden).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'INTEGER PRIMARY KEY,', 'INTEGER PRIMARY KEY AUTOINCREMENT,')
 WHERE type = 'table' AND sql NOT LIKE '%AUTOINCREMENT%' AND name IN ('things', 'locations',
   'historical_locations', 'sensors', 'observed_properties', 'datastreams', 'features_of_interest',
   'observations', 'organisations', 'api_keys');
PRAGMA writable_schema = RESET;
INSERT INTO sqlite_sequence (name, seq) SELECT t.name, t.seq FROM (
  SELECT 'things' AS name, (SELECT coalesce(max(id), 0) FROM things) AS seq
  UNION ALL SELECT 'locations', (SELECT coalesce(max(id), 0) FROM locations)
  UNION ALL SELECT 'historical_locations', (SELECT coalesce(max(id), 0) FROM historical_locations)
  UNION ALL SELECT 'sensors', (SELECT coalesce(max(id), 0) FROM sensors)
  UNION ALL SELECT 'observed_properties', (SELECT coalesce(max(id), 0) FROM observed_properties)
  UNION ALL SELECT 'datastreams', (SELECT coalesce(max(id), 0) FROM datastreams)
  UNION ALL SELECT 'features_of_interest', (SELECT coalesce(max(id), 0) FROM features_of_interest)
  UNION ALL SELECT 'observations', (SELECT coalesce(max(id), 0) FROM observations)
  UNION ALL SELECT 'organisations', (SELECT coalesce(max(id), 0) FROM organisations)
  UNION ALL SELECT 'api_keys', (SELECT coalesce(max(id), 0) FROM api_keys)
) t WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence s WHERE s.name = t.name);
