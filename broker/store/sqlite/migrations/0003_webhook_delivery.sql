-- Webhook delivery (docs/webhooks.md): per-connection ordering, a status of
-- its own (failed is final, not "undelivered"), the last HTTP status, and the
-- app's rotation grace and 410 switch.

ALTER TABLE webhook_events ADD COLUMN connection_id TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_events ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE webhook_events ADD COLUMN last_status_code INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_events ADD COLUMN failed_at INTEGER;
-- Insertion order: events of one connection are delivered in it.
ALTER TABLE webhook_events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE webhook_events SET seq = rowid;
UPDATE webhook_events SET status = 'delivered' WHERE delivered_at IS NOT NULL;
UPDATE webhook_events SET connection_id = COALESCE(json_extract(payload, '$.connectionId'), '')
	WHERE json_valid(payload);

DROP INDEX webhook_events_due;
DROP INDEX webhook_events_app;
CREATE UNIQUE INDEX webhook_events_seq ON webhook_events (seq);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at, seq) WHERE status = 'pending';
CREATE INDEX webhook_events_conn ON webhook_events (connection_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_events_app ON webhook_events (app_id, seq);
CREATE INDEX webhook_events_delivered ON webhook_events (delivered_at) WHERE status = 'delivered';
CREATE INDEX webhook_events_failed ON webhook_events (failed_at) WHERE status = 'failed';

ALTER TABLE apps ADD COLUMN webhook_secret_prev BLOB;
ALTER TABLE apps ADD COLUMN webhook_secret_prev_until INTEGER;
ALTER TABLE apps ADD COLUMN webhooks_disabled_at INTEGER;
