-- unless-column: rooms.arrived_visibility
-- 033_arrived_visibility: a room's history visibility as its events are
-- pushed, in the room's order (an appservice transaction, the state read
-- on joining): the value of the last m.room.history_visibility event that
-- came so and was new to the archive, when it came (arrived_at, ms) and
-- its time (arrived_ts: its stamp, or arrived_at if earlier). A timestamp
-- is the sender's claim; a "joined" stamped hours or years ahead, or a
-- "world_readable" stamped years back, must not publish what was said
-- after (or before) it in the room's order. A visibility event stored
-- later, stamped after arrived_ts (and not ahead of its own arrival), is a
-- later change, which the order no longer judges
-- (store.arrivedVisibilitySQL). '' where none came so (an older database,
-- until the next one). pushed_visibility holds the visibility events a
-- push has brought: only the first push of one sets the room's (a copy
-- pushed again is older than what came since; one /sync or a sweep stored
-- first is not). room_sync.sweep_visibility is the room's visibility in
-- its order where its next forward sweep starts (store.RoomSync).
ALTER TABLE rooms ADD COLUMN arrived_visibility TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN arrived_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN arrived_ts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE room_sync ADD COLUMN sweep_visibility TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS pushed_visibility (
    event_id TEXT PRIMARY KEY,
    room_id  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pushed_visibility_room ON pushed_visibility (room_id);
