-- unless-column: rooms.arrived_visibility
-- 033_arrived_visibility: as common/033_arrived_visibility.sql, with the
-- text column compared as bytes, as every text column is since 021.
ALTER TABLE rooms ADD COLUMN arrived_visibility TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN arrived_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN arrived_ts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE room_sync ADD COLUMN sweep_visibility TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS pushed_visibility (
    event_id TEXT COLLATE "C" PRIMARY KEY,
    room_id  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS pushed_visibility_room ON pushed_visibility (room_id);
