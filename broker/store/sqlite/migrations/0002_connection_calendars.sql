-- Calendar selection (docs/api.md, calendars of a connection): the ids of
-- the calendars that count for events and free/busy, as a JSON list; '[]'
-- means the default, the account's primary calendar. A reconnect keeps it.
ALTER TABLE connections ADD COLUMN calendars TEXT NOT NULL DEFAULT '[]';
