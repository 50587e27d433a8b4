-- Who holds an API key, for four eyes (alert.Service.Approve): held_by is the id of the key
-- whose holder this key shares — set when an organisation's admin (not the node-wide admin,
-- not the command line) creates a key, to the creating key's holder — or NULL when the key is
-- its own holder. Keys an organisation's admin mints count as that admin's own.
ALTER TABLE api_keys ADD COLUMN held_by {INT};
