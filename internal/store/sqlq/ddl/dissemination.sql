-- Dissemination: subscribers with their contacts (sealed: AES-256-GCM, with an HMAC lookup
-- key so that a STOP or an unsubscribe link finds a contact without decrypting any), erasures
-- done on request, the impact of alerts, the delivery plan of every issued CAP message and
-- one delivery per subscriber, channel and message. Times are microseconds since the Unix
-- epoch (UTC).
CREATE TABLE subscribers (
  id             {SERIAL},
  org            TEXT NOT NULL,
  kind           TEXT NOT NULL,      -- person | organisation
  sealed_name    {BLOB} NOT NULL,    -- AES-256-GCM of the name (personal data)
  language       TEXT NOT NULL,      -- BCP 47
  audiences      TEXT NOT NULL,      -- comma-separated: public, farmers, health, responders
  place          TEXT,               -- key of the place of interest (package place)
  lat            {REAL},             -- or a point (WGS84 degrees) …
  lon            {REAL},
  radius_km      {REAL},             -- … and a radius in kilometres
  consent_us     {INT} NOT NULL,
  consent_source TEXT NOT NULL,
  created_us     {INT} NOT NULL
);
CREATE INDEX subscribers_org ON subscribers(org, id);
CREATE TABLE subscriber_contacts (
  id            {SERIAL},
  subscriber_id {INT} NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
  position      INTEGER NOT NULL,    -- preference order: 0 first, fallbacks after
  channel       TEXT NOT NULL,       -- sms | email | webhook
  sealed        {BLOB} NOT NULL,     -- AES-256-GCM of the address (and a webhook's secret)
  lookup        {KEY} NOT NULL       -- HMAC-SHA256 of channel and normalised address
);
CREATE INDEX subscriber_contacts_subscriber ON subscriber_contacts(subscriber_id, position);
CREATE INDEX subscriber_contacts_lookup ON subscriber_contacts(lookup);
-- Every change to a subscriber or its contacts, in order: a process brings its targeting index
-- up to date from here instead of reading every subscriber again.
CREATE TABLE subscriber_changes (
  version       {SERIAL},
  subscriber_id {INT} NOT NULL,
  changed_us    {INT} NOT NULL
);
CREATE INDEX subscriber_changes_time ON subscriber_changes(changed_us);
CREATE TABLE subscriber_erasures (
  id            {SERIAL},
  subscriber_id {INT} NOT NULL,
  "by"          TEXT NOT NULL,
  reason        TEXT NOT NULL,
  at_us         {INT} NOT NULL
);
-- What an alert reaches: computed for a draft (identifier '') and kept for each issued message.
CREATE TABLE alert_impacts (
  alert_id    {INT} NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  identifier  {KEY} NOT NULL,
  impact      TEXT NOT NULL,         -- JSON of dissemination.Impact
  computed_us {INT} NOT NULL,
  PRIMARY KEY (alert_id, identifier)
);
-- The plan of one issued CAP message: written once, with its deliveries, in one transaction.
CREATE TABLE dissemination_plans (
  identifier  {KEY} PRIMARY KEY,
  alert_id    {INT} NOT NULL,
  msg_type    TEXT NOT NULL,
  subscribers {INT} NOT NULL,
  deliveries  {INT} NOT NULL,
  planned_us  {INT} NOT NULL
);
CREATE TABLE deliveries (
  id            {SERIAL},
  alert_id      {INT} NOT NULL,
  identifier    {KEY} NOT NULL,      -- the CAP message (alert version) delivered
  subscriber_id {INT} NOT NULL,      -- no foreign key: an erased subscriber's deliveries stay, without personal data
  channel       TEXT NOT NULL,
  position      INTEGER NOT NULL,    -- the contact's preference position
  fallback      {FLAG},              -- planned because another channel failed permanently
  state         TEXT NOT NULL,       -- planned | sending | queued | sent | delivered | failed | superseded | cancelled
  attempts      INTEGER NOT NULL DEFAULT 0,
  next_us       {INT} NOT NULL,      -- when it may be (re)tried
  lease_us      {INT},               -- while sending: until when the claim holds
  ambiguous     {FLAG},              -- a claim expired mid-send (a crash): the gateway may already have it
  gateway_id    TEXT,
  parts         INTEGER,
  error         TEXT,
  created_us    {INT} NOT NULL,
  updated_us    {INT} NOT NULL
);
-- never the same delivery twice: one per message, subscriber and channel
CREATE UNIQUE INDEX deliveries_once ON deliveries(identifier, subscriber_id, channel);
CREATE INDEX deliveries_due ON deliveries(channel, state, next_us);
CREATE INDEX deliveries_alert ON deliveries(alert_id, state);
CREATE INDEX deliveries_subscriber ON deliveries(subscriber_id);
CREATE INDEX deliveries_gateway ON deliveries(gateway_id) WHERE gateway_id IS NOT NULL;
