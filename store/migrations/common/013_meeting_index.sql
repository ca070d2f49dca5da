-- 013_meeting_index: the messages (edits included) whose JSON mentions
-- "startmeeting", indexed by room and time: the candidates for a room's
-- meetings (store.MeetingStarts), found without reading the room. Its
-- condition is repeated word for word by the query (meetingMentionSQL).
CREATE INDEX events_meeting ON events (room_id, origin_ts, nid) WHERE type = 'm.room.message' AND LOWER(raw) LIKE '%startmeeting%';
