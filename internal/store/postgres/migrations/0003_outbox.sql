-- The outbox table, written once in store/sqlq/ddl/outbox.sql and spelled for this engine by
-- sqlq.Migrate; then what only PostgreSQL needs.
--include outbox
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
