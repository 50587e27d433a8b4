-- Observation ids in commit order, across processes: rabta_reserve_observation_ids (0003)
-- held its lock only while drawing the ids, so two processes writing to one database could
-- commit their ids out of order (the one with the smaller ids committing last), and a reader
-- that had seen the larger id — a federation exporter's cursor — would never see the smaller.
-- The lock is now a transaction lock, held until the reserving transaction commits or rolls
-- back: the next reservation waits, so the ids of one transaction are all below those of any
-- transaction that commits after it. Within one process the writers already take turns from
-- reservation to commit; what this adds is the same between processes.
CREATE OR REPLACE FUNCTION rabta_reserve_observation_ids(n integer, lock_key bigint) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  RETURN QUERY SELECT nextval('observations_id_seq') FROM generate_series(1, n);
END
$$;
