-- Two-way SMS (package twoway): every SMS people send to the node and every reply, with the
-- number as its lookup key (HMAC-SHA256 under the contacts key, as subscriber_contacts.lookup)
-- and the text sealed (AES-256-GCM): personal data never in clear. direction is 'in' or 'out';
-- verb the command read (JOIN, STOP, LANG, LEVEL, HELP, UNKNOWN); outcome 'handled',
-- 'limited' (over the rate limit, told so), 'dropped' (over it again) for messages in, 'sent'
-- or 'failed: …' for replies. Times are Unix microseconds.
CREATE TABLE sms_messages (
  id         {SERIAL},
  at_us      {INT} NOT NULL,
  direction  TEXT NOT NULL,
  lookup     TEXT NOT NULL,
  gateway    TEXT NOT NULL,
  verb       TEXT NOT NULL,
  sealed     {BLOB} NOT NULL,
  outcome    TEXT NOT NULL
);
CREATE INDEX sms_messages_lookup ON sms_messages(lookup, at_us);
-- The language a number asked for with LANG: replies and the subscriptions it makes later
-- use it.
CREATE TABLE sms_numbers (
  lookup     TEXT PRIMARY KEY,
  language   TEXT NOT NULL,
  updated_us {INT} NOT NULL
);
