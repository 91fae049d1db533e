-- One app's outstanding connect sessions are counted on every new one
-- (security.rateLimits.maxPendingSessions), and deleting an app cascades to
-- its sessions: both read by app.
CREATE INDEX auth_sessions_app ON auth_sessions (app_id, expires_at);
