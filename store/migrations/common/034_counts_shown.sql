-- 034_counts_shown: a room's message_count is of the messages its pages
-- show, so an opted-out member's are no longer in it (the directory, the
-- API and the about page read it; the calendar screens at read time).
-- From this version the writers keep it so (store.writer.recount on an
-- opt-out or an opt-in, finish on a batch, uncountMessageSQL on a
-- redaction, victimColumns on a deletion); this takes out what an older
-- version counted. The messages counted are those of
-- store.timelineMessageSQL.
UPDATE rooms SET message_count = message_count - (SELECT COUNT(*) FROM events e
		WHERE e.room_id = rooms.room_id AND e.public AND NOT e.redacted
			AND e.type IN ('m.room.message', 'm.sticker') AND e.rel_type <> 'm.replace'
			AND e.sender IN (SELECT user_id FROM optouts))
	WHERE EXISTS (SELECT 1 FROM optouts);
UPDATE rooms SET message_count = 0 WHERE message_count < 0;
