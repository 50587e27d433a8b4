-- Federation of CAP alerts (docs/federation.md "Alerts"). A partner's X.509 certificate (PEM),
-- with which this node verifies the signed CAP alerts it receives from it ('' when none was
-- given: its alerts are refused). On the provider, each agreement's alert cursor: the last
-- alert_messages.id considered for export. On the consumer, every CAP message received and
-- accepted, once (provider node, agreement, the provider's CAP identifier), with the local
-- alert it became a draft of (NULL: nothing to do, e.g. a Cancel of what was never received),
-- the provider's alert thread and the original's sender and sent time (microseconds).
ALTER TABLE fed_partners ADD COLUMN cert TEXT NOT NULL DEFAULT '';
ALTER TABLE fed_agreements ADD COLUMN alert_cursor {INT} NOT NULL DEFAULT 0;
CREATE TABLE fed_alerts (
  provider_node  {KEY} NOT NULL,
  agreement_id   {INT} NOT NULL,
  identifier     {KEY} NOT NULL,
  provider_alert {INT} NOT NULL,
  sender         TEXT NOT NULL,
  sent_us        {INT} NOT NULL,
  alert_id       {INT} REFERENCES alerts(id) ON DELETE SET NULL,
  received_us    {INT} NOT NULL,
  PRIMARY KEY (provider_node, agreement_id, identifier)
);
CREATE INDEX fed_alerts_alert ON fed_alerts(alert_id);
