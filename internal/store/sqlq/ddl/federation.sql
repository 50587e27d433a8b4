-- Federation (package federation, docs/federation.md): partner nodes, known by the public nkey
-- they log in to this node's NATS with (url: where this node dials one it receives from);
-- data-sharing agreements of this node's organisations (selection JSON, resolution 'raw',
-- 'hourly-mean' or 'daily-max', embargo and retention in seconds, state 'proposed',
-- 'approved', 'revoked', 'expired'), with the exporter's cursor (the last Observation id
-- exported, or for an aggregate the Unix second of the next period to export); and, on the
-- receiving node, which local read-only Datastream holds each provider Datastream received
-- under an agreement. Times are Unix microseconds.
CREATE TABLE fed_partners (
  node       {KEY} PRIMARY KEY,
  nkey       {KEY} NOT NULL UNIQUE,
  url        TEXT NOT NULL,
  created_us {INT} NOT NULL
);
CREATE TABLE fed_agreements (
  id            {ID},
  provider_org  {KEY} NOT NULL,
  consumer_org  {KEY} NOT NULL,
  consumer_node {KEY} NOT NULL,
  selection     TEXT NOT NULL,
  resolution    TEXT NOT NULL,
  embargo_s     {INT} NOT NULL,
  purpose       TEXT NOT NULL,
  valid_from_us {INT} NOT NULL,
  valid_until_us {INT},
  retention_s   {INT} NOT NULL,
  state         TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  created_us    {INT} NOT NULL,
  approved_by   TEXT,
  approved_us   {INT},
  revoked_by    TEXT,
  revoked_us    {INT},
  export_cursor {INT} NOT NULL DEFAULT 0
);
CREATE INDEX fed_agreements_consumer ON fed_agreements(consumer_node, state);
CREATE TABLE fed_remote (
  provider_node       {KEY} NOT NULL,
  agreement_id        {INT} NOT NULL,
  provider_datastream {INT} NOT NULL,
  datastream_id       {INT} NOT NULL REFERENCES datastreams(id) ON DELETE CASCADE,
  PRIMARY KEY (provider_node, agreement_id, provider_datastream)
);
CREATE INDEX fed_remote_datastream ON fed_remote(datastream_id);
