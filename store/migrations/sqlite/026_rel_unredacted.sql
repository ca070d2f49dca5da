-- 026_rel_unredacted: events_rel holds no redacted relation. Every walk
-- of a message's relations skips the redacted ones, and read them from
-- the index one by one: a spammer's 50,000 reactions to a message,
-- redacted by the room's moderators, made each read of that message walk
-- them all, for ever (56-59 ms a read on SQLite). Every query that
-- probes events_rel says NOT redacted, which SQLite's planner needs to
-- find, term by term, before it uses the partial index.
DROP INDEX events_rel;
CREATE INDEX events_rel ON events (rel_target, room_id, rel_type) WHERE rel_target <> '' AND NOT redacted;
