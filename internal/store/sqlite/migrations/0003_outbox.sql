-- Transactional outbox: each accepted batch of observations writes one entry per datastream
-- in the same transaction; the relay publishes entries to the bus with the entry id as the
-- message id (so a re-publish after a crash is de-duplicated) and then deletes them.
-- AUTOINCREMENT: an id is never reused after its entry is deleted, since the id is the message
-- id JetStream de-duplicates on.
CREATE TABLE outbox (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT NOT NULL,     -- "obs": a batch of observations of one datastream
  key        INTEGER NOT NULL,  -- the datastream id for "obs"
  payload    BLOB NOT NULL,     -- versioned JSON (sensing.ObsBatch)
  created_us INTEGER NOT NULL
);
