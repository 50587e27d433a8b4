-- Transactional outbox: each accepted batch of observations writes one entry per datastream
-- in the same transaction; the relay publishes entries to the bus with the entry id as the
-- message id and then deletes them. An identity never hands out an id twice, which JetStream's
-- de-duplication needs.
CREATE TABLE outbox (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind       TEXT NOT NULL,   -- "obs": a batch of observations of one datastream
  key        BIGINT NOT NULL, -- the datastream id for "obs"
  payload    BYTEA NOT NULL,  -- versioned JSON (sensing.ObsBatch)
  created_us BIGINT NOT NULL
);
