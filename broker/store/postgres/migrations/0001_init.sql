-- Times are Unix nanoseconds (UTC), NULL when unset, so they round-trip
-- exactly and compare the same as on SQLite (to_timestamp(col / 1e9) shows
-- them); lists are JSON arrays; ciphertext and hashes are BYTEA. Keys and
-- names sort bytewise (COLLATE "C"), as on SQLite, so paging and ordering are
-- the same on both backends.

CREATE TABLE apps (
	id                    TEXT COLLATE "C" PRIMARY KEY,
	name                  TEXT COLLATE "C" NOT NULL,
	description           TEXT NOT NULL DEFAULT '',
	logo_url              TEXT NOT NULL DEFAULT '',
	homepage_url          TEXT NOT NULL DEFAULT '',
	allowed_domains       TEXT NOT NULL DEFAULT '[]',
	allowed_redirect_uris TEXT NOT NULL DEFAULT '[]',
	login_url             TEXT NOT NULL DEFAULT '',
	logout_url            TEXT NOT NULL DEFAULT '',
	webhook_url           TEXT NOT NULL DEFAULT '',
	permissions           TEXT NOT NULL DEFAULT '[]',
	rate_limit            DOUBLE PRECISION NOT NULL DEFAULT 0,
	secret_hash           BYTEA,
	webhook_secret        BYTEA,
	created_at            BIGINT NOT NULL,
	updated_at            BIGINT NOT NULL,
	version               BIGINT NOT NULL
);
CREATE INDEX apps_created_at ON apps (created_at, id);
CREATE INDEX apps_name ON apps (name, id);

CREATE TABLE app_providers (
	app_id        TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	provider_id   TEXT COLLATE "C" NOT NULL,
	client_id     TEXT NOT NULL,
	client_secret BYTEA,
	scopes        TEXT NOT NULL DEFAULT '[]',
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL,
	PRIMARY KEY (app_id, provider_id)
);

-- Connections outlive their app (DISCONNECTED, credentials wiped), so no
-- foreign key to apps.
CREATE TABLE connections (
	id                TEXT COLLATE "C" PRIMARY KEY,
	app_id            TEXT COLLATE "C" NOT NULL,
	provider_id       TEXT COLLATE "C" NOT NULL,
	schedule_id       TEXT COLLATE "C" NOT NULL,
	account_id        TEXT COLLATE "C" NOT NULL,
	account_email     TEXT NOT NULL DEFAULT '',
	account_name      TEXT NOT NULL DEFAULT '',
	status            TEXT NOT NULL,
	scopes            TEXT NOT NULL DEFAULT '[]',
	client_source     TEXT NOT NULL DEFAULT '',
	credentials       BYTEA,
	token_expiry      BIGINT,
	last_refreshed_at BIGINT,
	last_used_at      BIGINT,
	last_error        TEXT NOT NULL DEFAULT '',
	created_at        BIGINT NOT NULL,
	updated_at        BIGINT NOT NULL,
	version           BIGINT NOT NULL
);
CREATE UNIQUE INDEX connections_account ON connections (app_id, provider_id, schedule_id, account_id);
CREATE INDEX connections_app_schedule ON connections (app_id, schedule_id, id);
CREATE INDEX connections_token_expiry ON connections (token_expiry) WHERE token_expiry IS NOT NULL;

CREATE TABLE auth_sessions (
	id            TEXT COLLATE "C" PRIMARY KEY,
	app_id        TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	provider_id   TEXT COLLATE "C" NOT NULL,
	schedule_id   TEXT COLLATE "C" NOT NULL,
	redirect_url  TEXT NOT NULL,
	app_state     TEXT NOT NULL DEFAULT '',
	scopes        TEXT NOT NULL DEFAULT '[]',
	login_hint    TEXT NOT NULL DEFAULT '',
	pkce_verifier TEXT NOT NULL DEFAULT '',
	client_source TEXT NOT NULL DEFAULT '',
	binding_hash  BYTEA,
	expires_at    BIGINT NOT NULL,
	created_at    BIGINT NOT NULL
);
CREATE INDEX auth_sessions_expires_at ON auth_sessions (expires_at);

CREATE TABLE leases (
	name       TEXT COLLATE "C" PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);

CREATE TABLE webhook_events (
	id              TEXT COLLATE "C" PRIMARY KEY,
	app_id          TEXT COLLATE "C" NOT NULL,
	type            TEXT NOT NULL,
	payload         BYTEA,
	attempts        BIGINT NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	delivered_at    BIGINT,
	created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX webhook_events_app ON webhook_events (app_id, created_at);
