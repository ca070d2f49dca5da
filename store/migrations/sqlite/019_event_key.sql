-- 019_event_key: the search index names an event by its time and a key of
-- 8 bytes (store/idkey.go). On SQLite the key is idh, which events_idh
-- (018) already indexes: nothing to add. PostgreSQL's 019 adds its index.
SELECT 1;
