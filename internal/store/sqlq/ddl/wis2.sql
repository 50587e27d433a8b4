-- Organisations whose data is open (package wis2): their observations are announced as WIS2
-- notification messages and readable without a key under /wis2/data/. Set by the node-wide
-- admin (rabta orgs open ORG, POST /api/v1/organisations/{org}/open); a row removed closes it.
CREATE TABLE open_organisations (
  organisation {KEY} PRIMARY KEY,
  opened_us    {INT} NOT NULL,
  opened_by    TEXT NOT NULL
);
