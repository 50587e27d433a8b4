-- Organisations and API keys. Keys are stored as SHA-256 hashes; the clear key is shown once.
-- Times are Unix seconds. A key's expiry (expires_at) is added by auth_expiry.sql (migration
-- 0010 of each engine): migrations are append-only, so this file stays as released.
CREATE TABLE organisations (
  id         {ID},
  name       {KEY} NOT NULL UNIQUE,
  created_at {INT} NOT NULL
);
CREATE TABLE api_keys (
  id              {ID},
  organisation_id {INT} NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
  role            TEXT NOT NULL,
  name            TEXT NOT NULL DEFAULT '',
  prefix          TEXT NOT NULL,
  hash            {BLOB} NOT NULL UNIQUE,
  created_at      {INT} NOT NULL,
  revoked_at      {INT}
);
