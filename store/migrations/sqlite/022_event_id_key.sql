-- 022_event_id_key: PostgreSQL finds events by their ID's key, as SQLite
-- has found them by its hash since 018: nothing to change.
SELECT 1;
