-- unless-column: rooms.arrived_visibility
-- 033_arrived_visibility: a room's history visibility as its events are
-- pushed, in the room's order (an appservice transaction, /sync, the
-- state read on joining): the value of the last
-- m.room.history_visibility event that came so. A timestamp is the
-- sender's claim; a "joined" stamped hours or years ahead, or a
-- "world_readable" stamped years back, must not publish what was said
-- after (or before) it in the room's order. '' where none came so (an
-- older database, until the next one).
ALTER TABLE rooms ADD COLUMN arrived_visibility TEXT NOT NULL DEFAULT '';
