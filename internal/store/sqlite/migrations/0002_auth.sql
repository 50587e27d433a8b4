-- Organisations and API keys. Keys are stored as SHA-256 hashes; the clear key is shown once.
CREATE TABLE organisations (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id              INTEGER PRIMARY KEY,
  organisation_id INTEGER NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
  role            TEXT NOT NULL,
  name            TEXT NOT NULL DEFAULT '',
  prefix          TEXT NOT NULL,
  hash            BLOB NOT NULL UNIQUE,
  created_at      INTEGER NOT NULL,
  revoked_at      INTEGER
);
