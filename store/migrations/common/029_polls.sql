-- 029_polls: the polls a reader sees (public, not redacted, the start of
-- a poll and not an edit or a state event: pollIndexCond), by room and
-- time, with their sender for the opt-out check. A day whose only
-- message is a poll is in the calendar, the sitemap and the days' links
-- (RoomDays, DayCounts, AdjacentMessages), and a room's feed lists its
-- polls (LatestMessages): each walks this index, not every event of the
-- room.
CREATE INDEX IF NOT EXISTS events_polls ON events (room_id, origin_ts, nid, sender) WHERE public AND NOT redacted AND type IN ('m.poll.start', 'org.matrix.msc3381.poll.start') AND rel_type <> 'm.replace' AND state_key IS NULL;
