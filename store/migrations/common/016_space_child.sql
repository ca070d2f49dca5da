-- 016_space_child: the m.space.child events by space, child and time, so
-- that SpaceChildren (the directory's spaces, on every directory page)
-- reads the spaces' child events alone rather than walking every state
-- event of the archive on events_state, which its room_id leads: 222,682
-- of them at 3M messages, 30 ms a directory page. Its condition is the
-- query's (spaceChildrenSQL).
CREATE INDEX events_space_child ON events (room_id, state_key, origin_ts, nid) WHERE type = 'm.space.child' AND state_key IS NOT NULL;
