-- The public CAP feed (sqlq.Alerts.Feed) finds recent messages and its high-water mark by
-- time: what was sent after, and what expired before, a given instant.
CREATE INDEX alert_messages_sent ON alert_messages(sent_us);
CREATE INDEX alert_messages_expires ON alert_messages(expires_us);
