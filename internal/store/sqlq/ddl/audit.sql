-- The audit log (package audit): an append-only, hash-chained record of agreement changes,
-- exports and imports, key and rule changes. seq runs 1, 2, 3 …; detail is the JSON text
-- exactly as hashed (TEXT, not JSONB: PostgreSQL would respell it); prev and hash are hex
-- SHA-256. Rabta never updates or deletes a row of these tables; rabta audit verify finds
-- one that was. Times are Unix microseconds.
CREATE TABLE audit_log (
  seq     {INT} PRIMARY KEY,
  at_us   {INT} NOT NULL,
  kind    TEXT NOT NULL,
  actor   TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail  TEXT NOT NULL,
  prev    TEXT NOT NULL,
  hash    TEXT NOT NULL
);
-- The chain's head signed with the node's key after each append: the entry's seq and hash,
-- the node, the time and the signature (over audit.HeadMessage).
CREATE TABLE audit_heads (
  seq       {INT} PRIMARY KEY,
  node      TEXT NOT NULL,
  hash      TEXT NOT NULL,
  at_us     {INT} NOT NULL,
  signature {BLOB} NOT NULL
);
