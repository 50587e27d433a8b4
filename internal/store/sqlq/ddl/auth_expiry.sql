-- API keys may expire (issue 15): expires_at in Unix seconds, NULL for a key that never
-- expires. A key is valid up to, not at, that second (sqlq.Auth.KeyByHash).
ALTER TABLE api_keys ADD COLUMN expires_at {INT};
