-- unless-column: rooms.arrived_visibility
-- 033_arrived_visibility: as common/033_arrived_visibility.sql, with the
-- text column compared as bytes, as every text column is since 021.
ALTER TABLE rooms ADD COLUMN arrived_visibility TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN arrived_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN arrived_ts BIGINT NOT NULL DEFAULT 0;
