-- 018_event_id_hash: SQLite finds events by a hash of their ID (idh; see
-- store/idh.go); PostgreSQL keeps its unique index on the ID's text, and
-- idh is the identity, which the planner inlines, so that one SQL text
-- (idh(event_id) = idh($1) AND event_id = $1) serves both databases.
CREATE FUNCTION idh(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT $1';
