-- Answers to writes made with an Idempotency-Key (sqlq.Idempotency): by the API key that sent
-- the request and the client's key, the request's SHA-256 fingerprint and the first answer, so
-- that a retry within the window is answered again instead of stored twice. status is 0 while
-- the first request is being served, a claim held until lease_us; times are Unix microseconds.
CREATE TABLE idempotency_keys (
  api_key_id   {INT} NOT NULL,
  idem_key     {KEY} NOT NULL,
  fingerprint  {BLOB} NOT NULL,
  status       {INT} NOT NULL DEFAULT 0,
  content_type TEXT NOT NULL DEFAULT '',
  location     TEXT NOT NULL DEFAULT '',
  body         {BLOB},
  lease_us     {INT} NOT NULL,
  expires_us   {INT} NOT NULL,
  PRIMARY KEY (api_key_id, idem_key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys(expires_us);
