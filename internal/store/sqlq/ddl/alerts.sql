-- Warning rules (as applied, JSON of rule.Rule), the rule engine's saved state, and alerts:
-- one row per warning thread, its issued CAP messages, and every transition. Times are
-- microseconds since the Unix epoch (UTC).
CREATE TABLE rules (
  id         {KEY} PRIMARY KEY,
  body       TEXT NOT NULL,
  updated_us {INT} NOT NULL
);
CREATE TABLE rule_state (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  version    {INT} NOT NULL,
--sqlite:   snapshot   TEXT NOT NULL,
--postgres: snapshot   BYTEA NOT NULL,
  updated_us {INT} NOT NULL
);
CREATE TABLE alerts (
  id          {SERIAL},
  rule_id     {KEY} NOT NULL,
  state       TEXT NOT NULL,
  status      TEXT NOT NULL,
  operational {FLAG},
  level       INTEGER NOT NULL,
  level_name  TEXT NOT NULL,
  draft       TEXT,              -- JSON of the cap.Alert waiting for approval
  draft_type  TEXT,
  draft_by    TEXT,
  created_us  {INT} NOT NULL,
  updated_us  {INT} NOT NULL
);
-- at most one open (draft or issued) alert per rule
CREATE UNIQUE INDEX alerts_open_rule ON alerts(rule_id) WHERE state IN ('draft', 'issued');
CREATE INDEX alerts_state ON alerts(state, updated_us);
CREATE TABLE alert_messages (
  id          {SERIAL},
  alert_id    {INT} NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  identifier  {KEY} NOT NULL UNIQUE,
  sender      TEXT NOT NULL,
  sent_us     {INT} NOT NULL,
  expires_us  {INT} NOT NULL,
  msg_type    TEXT NOT NULL,
  status      TEXT NOT NULL,
  operational {FLAG},
  headline    TEXT NOT NULL,
  xml         {BLOB} NOT NULL
);
CREATE INDEX alert_messages_alert ON alert_messages(alert_id, id);
CREATE TABLE alert_transitions (
  id         {SERIAL},
  alert_id   {INT} NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  from_state TEXT NOT NULL,
  to_state   TEXT NOT NULL,
  "by"       TEXT NOT NULL,
  why        TEXT NOT NULL,
  at_us      {INT} NOT NULL,
  identifier TEXT
);
CREATE INDEX alert_transitions_alert ON alert_transitions(alert_id, id);
