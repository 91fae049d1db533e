-- Times are Unix nanoseconds (UTC), NULL when unset; lists are JSON arrays;
-- ciphertext and hashes are BLOBs.

CREATE TABLE apps (
	id                    TEXT PRIMARY KEY,
	name                  TEXT NOT NULL,
	description           TEXT NOT NULL DEFAULT '',
	logo_url              TEXT NOT NULL DEFAULT '',
	homepage_url          TEXT NOT NULL DEFAULT '',
	allowed_domains       TEXT NOT NULL DEFAULT '[]',
	allowed_redirect_uris TEXT NOT NULL DEFAULT '[]',
	login_url             TEXT NOT NULL DEFAULT '',
	logout_url            TEXT NOT NULL DEFAULT '',
	webhook_url           TEXT NOT NULL DEFAULT '',
	permissions           TEXT NOT NULL DEFAULT '[]',
	rate_limit            REAL NOT NULL DEFAULT 0,
	secret_hash           BLOB,
	webhook_secret        BLOB,
	created_at            INTEGER NOT NULL,
	updated_at            INTEGER NOT NULL,
	version               INTEGER NOT NULL
);
CREATE INDEX apps_created_at ON apps (created_at, id);
CREATE INDEX apps_name ON apps (name, id);

CREATE TABLE app_providers (
	app_id        TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	provider_id   TEXT NOT NULL,
	client_id     TEXT NOT NULL,
	client_secret BLOB,
	scopes        TEXT NOT NULL DEFAULT '[]',
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	PRIMARY KEY (app_id, provider_id)
);

-- Connections outlive their app (DISCONNECTED, credentials wiped), so no
-- foreign key to apps.
CREATE TABLE connections (
	id                TEXT PRIMARY KEY,
	app_id            TEXT NOT NULL,
	provider_id       TEXT NOT NULL,
	schedule_id       TEXT NOT NULL,
	account_id        TEXT NOT NULL,
	account_email     TEXT NOT NULL DEFAULT '',
	account_name      TEXT NOT NULL DEFAULT '',
	status            TEXT NOT NULL,
	scopes            TEXT NOT NULL DEFAULT '[]',
	client_source     TEXT NOT NULL DEFAULT '',
	credentials       BLOB,
	token_expiry      INTEGER,
	last_refreshed_at INTEGER,
	last_used_at      INTEGER,
	last_error        TEXT NOT NULL DEFAULT '',
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL,
	version           INTEGER NOT NULL
);
CREATE UNIQUE INDEX connections_account ON connections (app_id, provider_id, schedule_id, account_id);
CREATE INDEX connections_app_schedule ON connections (app_id, schedule_id, id);
CREATE INDEX connections_token_expiry ON connections (token_expiry) WHERE token_expiry IS NOT NULL;

CREATE TABLE auth_sessions (
	id            TEXT PRIMARY KEY,
	app_id        TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	provider_id   TEXT NOT NULL,
	schedule_id   TEXT NOT NULL,
	redirect_url  TEXT NOT NULL,
	app_state     TEXT NOT NULL DEFAULT '',
	scopes        TEXT NOT NULL DEFAULT '[]',
	login_hint    TEXT NOT NULL DEFAULT '',
	pkce_verifier TEXT NOT NULL DEFAULT '',
	client_source TEXT NOT NULL DEFAULT '',
	binding_hash  BLOB,
	expires_at    INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
);
CREATE INDEX auth_sessions_expires_at ON auth_sessions (expires_at);

CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
);

CREATE TABLE webhook_events (
	id              TEXT PRIMARY KEY,
	app_id          TEXT NOT NULL,
	type            TEXT NOT NULL,
	payload         BLOB,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	delivered_at    INTEGER,
	created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX webhook_events_app ON webhook_events (app_id, created_at);
