-- Transactional outbox: each accepted batch of observations writes, in the same transaction,
-- one small entry per datastream and up to 1000 observations (an id range, not a copy of the
-- data); the relay reads the observations, publishes them to the bus with the entry id as the
-- message id (so a re-publish after a crash is de-duplicated) and then deletes the entry.
-- An id is never handed out twice, even after its entry is deleted, since the id is the
-- message id JetStream de-duplicates on.
CREATE TABLE outbox (
  id         {SERIAL},
  kind       TEXT NOT NULL,   -- "obs": a batch of observations of one datastream
  key        {INT} NOT NULL,  -- the datastream id for "obs"
  first_id   {INT} NOT NULL,  -- the entry's observations: this datastream's rows with
  last_id    {INT} NOT NULL,  --   first_id <= id <= last_id
  created_us {INT} NOT NULL
);
