-- On a receiving node (docs/federation.md, "What a node receives"): each agreement it receives
-- from a provider, as it knows it — the terms its messages carried (consumer organisation,
-- resolution, retention in seconds: null until a message said them), its state as the link
-- last saw it ('active': the provider lists it for this node; 'ended': the provider, reachable,
-- no longer does — revoked or expired; 'unknown': the link is down) and since when, how many
-- values were stored and shared alerts taken under it, and when the first and the latest
-- arrived. The state is also written into the properties of its remote Datastreams
-- (properties.remote.agreementState). Times are Unix microseconds (state_us 0: not known).
CREATE TABLE fed_received (
  provider_node {KEY} NOT NULL,
  agreement_id  {INT} NOT NULL,
  consumer_org  {KEY} NOT NULL DEFAULT '',
  resolution    TEXT NOT NULL DEFAULT '',
  retention_s   {INT},
  state         TEXT NOT NULL,
  state_us      {INT} NOT NULL DEFAULT 0,
  values_n      {INT} NOT NULL DEFAULT 0,
  alerts_n      {INT} NOT NULL DEFAULT 0,
  first_us      {INT},
  last_us       {INT},
  PRIMARY KEY (provider_node, agreement_id)
);
-- the agreements received before this table, from the remote Datastreams made under them (the
-- values they hold now; the state unknown until the link next asks the provider)
INSERT INTO fed_received (provider_node, agreement_id, consumer_org, state, values_n)
  SELECT r.provider_node, r.agreement_id, min(d.organisation), 'unknown', coalesce(sum(c.n), 0)
  FROM fed_remote r JOIN datastreams d ON d.id = r.datastream_id LEFT JOIN observation_counts c ON c.datastream_id = r.datastream_id
  GROUP BY r.provider_node, r.agreement_id;
