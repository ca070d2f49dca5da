-- 030_poll_times: a room's first and last times (rooms.first_ts,
-- last_ts) are of its messages and its polls, as its days are (RoomDays):
-- the room's page opens on its last day with something to read, the
-- calendar's months run to it, and a room whose only messages are polls
-- has days. Polls stored before count from now, read on events_polls.
UPDATE rooms SET
	first_ts = CASE WHEN rooms.first_ts = 0 OR p.first_ts < rooms.first_ts THEN p.first_ts ELSE rooms.first_ts END,
	last_ts = CASE WHEN p.last_ts > rooms.last_ts THEN p.last_ts ELSE rooms.last_ts END
FROM (SELECT room_id, MIN(origin_ts) AS first_ts, MAX(origin_ts) AS last_ts FROM events
	WHERE public AND NOT redacted AND type IN ('m.poll.start', 'org.matrix.msc3381.poll.start') AND rel_type <> 'm.replace' AND state_key IS NULL
	GROUP BY room_id) p
WHERE rooms.room_id = p.room_id;
