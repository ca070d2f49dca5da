-- 027_edits: a message's edits by its sender, apart (events_edits). Only
-- the sender's edits are valid, and the walk of a message's edits read
-- every other sender's on events_rel to find them: a room member's
-- 100,000 edits of someone else's message made each read of it walk them
-- all (92-114 ms on SQLite). Every index of a table holds its rowid,
-- nid, which the walks follow.
CREATE INDEX IF NOT EXISTS events_edits ON events (rel_target, room_id, sender)
	WHERE rel_type = 'm.replace' AND rel_target <> '' AND NOT redacted;
