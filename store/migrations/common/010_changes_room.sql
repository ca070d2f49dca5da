-- A room's newest change-feed position, asked for by web's page keys on
-- every repeated page: one index probe instead of a scan of the feed.
CREATE INDEX IF NOT EXISTS changes_room ON changes (room_id, pos);
