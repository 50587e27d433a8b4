-- Organisations own rules and alerts, and four eyes know who wrote what (issue 15).
-- A rule belongs to the organisation of the key that applied it; an alert to its rule's
-- organisation (copied when the alert is made, so it stays when the rule goes). Rules and
-- alerts from before owners existed belong to the node's own organisation, "admin"
-- (auth.NodeOrganisation).
ALTER TABLE rules ADD COLUMN organisation TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE alerts ADD COLUMN organisation TEXT NOT NULL DEFAULT 'admin';
-- The draft's authors, JSON [{"name": "pdma/key-7", "as": "rule"}, …] (alert.Author): who
-- changed its rule and who posted the deciding value. With four eyes on, none may approve it.
ALTER TABLE alerts ADD COLUMN draft_authors TEXT;
-- Who changed each rule: one row per rule created, changed (its body differs) or removed, by
-- auth.Principal.Name ("pdma/key-7") or "cli/<user>" for the command line. Append-only: a
-- rule's authors are everyone who ever created or changed it.
CREATE TABLE rule_changes (
  id           {SERIAL},
  rule_id      {KEY} NOT NULL,
  organisation TEXT NOT NULL,
  "by"         TEXT NOT NULL,
  change       TEXT NOT NULL,  -- created, changed or removed
  at_us        {INT} NOT NULL
);
CREATE INDEX rule_changes_rule ON rule_changes(rule_id, id);
-- The API key that posted an outbox entry's observations (NULL: none did, e.g. a CLI import);
-- the relay puts its name in the bus message (sensing.ObsBatch.By).
ALTER TABLE outbox ADD COLUMN key_id {INT};
