-- 020_event_columns: the ID's hash and events_meeting's condition become
-- columns of events, written with each row (store/idh.go: eh, meeting),
-- and are indexed as such. An index that calls a function (idh, LOWER,
-- LIKE) may fail midway through a statement, so SQLite kept a statement
-- journal for every multi-row insert into events. The existing rows are
-- filled once, here, by the same functions the old indexes called.
DROP INDEX events_idh;
DROP INDEX events_meeting;
ALTER TABLE events ADD COLUMN eh INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN meeting BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE events SET eh = idh(event_id),
    meeting = (type = 'm.room.message' AND LOWER(raw) LIKE '%startmeeting%');
CREATE INDEX events_eh ON events (eh);
CREATE INDEX events_meeting ON events (room_id, origin_ts, nid) WHERE meeting;
