-- 025_rel_room: events_rel holds the relation's room after its target, so
-- a walk of a message's relations (the relation is kept only from the
-- target's room) reads none of another room's: a hostile room's 100,000
-- reactions to another room's message made each read of that message
-- walk them all (88-112 ms a read on SQLite, growing with them; now
-- 1.6-3.8). Every index of a table holds its rowid, nid, which the walks
-- follow.
DROP INDEX events_rel;
CREATE INDEX events_rel ON events (rel_target, room_id, rel_type) WHERE rel_target <> '';
