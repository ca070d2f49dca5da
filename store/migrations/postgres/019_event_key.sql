-- 019_event_key: the search index names an event by its time and a key of
-- 8 bytes (store/idkey.go). On PostgreSQL the key is the first 8 bytes of
-- the event ID's MD5, and this index finds events by it.
CREATE FUNCTION idkey(text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$SELECT ('x' || left(md5($1), 16))::bit(64)::bigint$$;
CREATE INDEX events_idkey ON events (idkey(event_id));
