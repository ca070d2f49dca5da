-- 018_event_id_hash: events are found by a hash of their ID (idh, a
-- function the store registers; see store/idh.go), not by a unique index
-- on its text: an event ID lands on a random page of such an index, and
-- every write transaction rewrote the pages it touched, a quarter of an
-- import's time. SQLite cannot drop a column's UNIQUE, so the table is
-- made anew and its rows copied, with their nid, keeping AUTOINCREMENT's
-- high-water mark: a nid, once given, is not given again.
CREATE TABLE events_new (
    nid         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL,
    room_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    state_key   TEXT,
    sender      TEXT NOT NULL,
    sender_name TEXT NOT NULL DEFAULT '',
    origin_ts   BIGINT NOT NULL,
    public      BOOLEAN NOT NULL,
    rel_type    TEXT NOT NULL DEFAULT '',
    rel_target  TEXT NOT NULL DEFAULT '',
    rel_key     TEXT NOT NULL DEFAULT '',
    reply_to    TEXT NOT NULL DEFAULT '',
    raw         TEXT NOT NULL,
    redacted    BOOLEAN NOT NULL DEFAULT FALSE,
    received_at BIGINT NOT NULL,
    related     BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO events_new (nid, event_id, room_id, type, state_key, sender, sender_name, origin_ts, public,
        rel_type, rel_target, rel_key, reply_to, raw, redacted, received_at, related)
    SELECT nid, event_id, room_id, type, state_key, sender, sender_name, origin_ts, public,
        rel_type, rel_target, rel_key, reply_to, raw, redacted, received_at, related
    FROM events ORDER BY nid;
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_new', 0
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events_new');
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))
    WHERE name = 'events_new';
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_idh ON events (idh(event_id));
CREATE INDEX events_room_ts ON events (room_id, origin_ts, nid);
CREATE INDEX events_state ON events (room_id, type, state_key, origin_ts, nid) WHERE state_key IS NOT NULL;
CREATE INDEX events_rel ON events (rel_target, rel_type) WHERE rel_target <> '';
CREATE INDEX events_sender ON events (sender, origin_ts);
CREATE INDEX events_meeting ON events (room_id, origin_ts, nid) WHERE type = 'm.room.message' AND LOWER(raw) LIKE '%startmeeting%';
CREATE INDEX events_related ON events (room_id, origin_ts, nid) WHERE related;
CREATE INDEX events_space_child ON events (room_id, state_key, origin_ts, nid) WHERE type = 'm.space.child' AND state_key IS NOT NULL;
CREATE INDEX events_shown ON events (room_id, origin_ts, sender) WHERE public AND NOT redacted AND type IN ('m.room.message', 'm.sticker') AND rel_type <> 'm.replace';
