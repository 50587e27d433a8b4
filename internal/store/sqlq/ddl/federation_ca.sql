-- Federation over TLS (docs/federation.md): the PEM certificates a partner's NATS listener
-- must chain to (its CA, or its own certificate pinned; rabta federation partners add --ca),
-- '' for the system's roots.
ALTER TABLE fed_partners ADD COLUMN ca TEXT NOT NULL DEFAULT '';
