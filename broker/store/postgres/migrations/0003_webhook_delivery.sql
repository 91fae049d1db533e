-- Webhook delivery (docs/webhooks.md): per-connection ordering, a status of
-- its own (failed is final, not "undelivered"), the last HTTP status, and the
-- app's rotation grace and 410 switch.

-- Insertion order: events of one connection are delivered in it. The value
-- is taken inside the transaction that changes the connection, after its
-- row lock, so it follows the order of the changes.
CREATE SEQUENCE webhook_events_seq;
ALTER TABLE webhook_events
	ADD COLUMN connection_id TEXT COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN status TEXT NOT NULL DEFAULT 'pending',
	ADD COLUMN last_status_code BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN failed_at BIGINT,
	ADD COLUMN seq BIGINT NOT NULL DEFAULT nextval('webhook_events_seq');
ALTER SEQUENCE webhook_events_seq OWNED BY webhook_events.seq;
UPDATE webhook_events SET status = 'delivered' WHERE delivered_at IS NOT NULL;
UPDATE webhook_events SET connection_id = COALESCE(convert_from(payload, 'UTF8')::jsonb ->> 'connectionId', '')
	WHERE payload IS NOT NULL;

DROP INDEX webhook_events_due;
DROP INDEX webhook_events_app;
CREATE UNIQUE INDEX webhook_events_seq_key ON webhook_events (seq);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at, seq) WHERE status = 'pending';
CREATE INDEX webhook_events_conn ON webhook_events (connection_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_events_app ON webhook_events (app_id, seq);
CREATE INDEX webhook_events_delivered ON webhook_events (delivered_at) WHERE status = 'delivered';
CREATE INDEX webhook_events_failed ON webhook_events (failed_at) WHERE status = 'failed';

ALTER TABLE apps
	ADD COLUMN webhook_secret_prev BYTEA,
	ADD COLUMN webhook_secret_prev_until BIGINT,
	ADD COLUMN webhooks_disabled_at BIGINT;
