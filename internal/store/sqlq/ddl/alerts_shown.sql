-- What readers outside an alert's organisation see of it (alert.Alert.Shown, alert.Reader):
-- the level and the time of its last step they read — a message issued, an issued alert's
-- expiry — so that a draft waiting on an issued alert (whose level is the draft's), or one
-- drafted and rejected, moves neither. Alerts from before: their level and time when no draft
-- waits, else no level and the time of their last message.
ALTER TABLE alerts ADD COLUMN shown_level INTEGER NOT NULL DEFAULT -1;
ALTER TABLE alerts ADD COLUMN shown_level_name TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN shown_updated_us {INT} NOT NULL DEFAULT 0;
UPDATE alerts SET
  shown_level = CASE WHEN draft IS NULL THEN level ELSE -1 END,
  shown_level_name = CASE WHEN draft IS NULL THEN level_name ELSE '' END,
  shown_updated_us = CASE WHEN draft IS NULL THEN updated_us
    ELSE coalesce((SELECT max(m.sent_us) FROM alert_messages m WHERE m.alert_id = alerts.id), updated_us) END;
