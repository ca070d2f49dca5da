-- 028_votes: a poll's responses and ends by their sender (events_votes).
-- A vote is a user's latest response, and the latest 500 references a
-- read kept of a poll could all be one member's: his flood of responses
-- left every other vote uncounted. PollVotes walks the voters on this
-- index, one after the other, and each one's latest. nid last, which the
-- walks follow (023).
CREATE INDEX IF NOT EXISTS events_votes ON events (rel_target, room_id, sender, nid)
	WHERE rel_type = 'm.reference' AND type IN ('m.poll.response', 'org.matrix.msc3381.poll.response', 'm.poll.end', 'org.matrix.msc3381.poll.end')
	AND rel_target <> '' AND NOT redacted;
