-- 027_edits: a message's edits by its sender, apart (events_edits). Only
-- the sender's edits are valid, and the walk of a message's edits read
-- every other sender's on events_rel to find them: a room member's
-- 100,000 edits of someone else's message made each read of it walk them
-- all. nid last, which the walks follow (023).
CREATE INDEX IF NOT EXISTS events_edits ON events (rel_target, room_id, sender, nid)
	WHERE rel_type = 'm.replace' AND rel_target <> '' AND NOT redacted;
