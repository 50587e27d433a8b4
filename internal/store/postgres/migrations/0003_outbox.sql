-- Transactional outbox: each accepted batch of observations writes, in the same transaction,
-- one small entry per datastream and up to 1000 observations (an id range, not a copy of the
-- data); the relay reads the observations, publishes them to the bus with the entry id as the
-- message id (so a re-publish after a crash is de-duplicated) and then deletes the entry. An
-- identity never hands out an id twice, which JetStream's de-duplication needs.
CREATE TABLE outbox (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind       TEXT NOT NULL,   -- "obs": a batch of observations of one datastream
  key        BIGINT NOT NULL, -- the datastream id for "obs"
  first_id   BIGINT NOT NULL, -- the entry's observations: this datastream's rows with
  last_id    BIGINT NOT NULL, --   first_id <= id <= last_id
  created_us BIGINT NOT NULL
);
-- rabta_reserve_observation_ids hands out n observation ids in one unbroken run, however many
-- transactions reserve ids at once: a session advisory lock (lock_key, per schema) is held
-- only while the ids are drawn, not until commit. An outbox entry's id range then holds only
-- the rows of its own transaction, so no observation is published in two entries.
CREATE FUNCTION rabta_reserve_observation_ids(n integer, lock_key bigint) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_lock(lock_key);
  BEGIN
    RETURN QUERY SELECT nextval('observations_id_seq') FROM generate_series(1, n);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM pg_advisory_unlock(lock_key);
    RAISE;
  END;
  PERFORM pg_advisory_unlock(lock_key);
END
$$;
