-- 001_init: rooms, events (with the columns day pages, permalinks and
-- relations need), redactions (kept even before their target arrives) and
-- the change feed the search indexer tails.
-- Timestamps are integer milliseconds since the Unix epoch, UTC.
CREATE TABLE rooms (
    room_id             TEXT PRIMARY KEY,
    room_version        TEXT NOT NULL DEFAULT '1',
    creator             TEXT NOT NULL DEFAULT '',
    create_event_id     TEXT NOT NULL DEFAULT '',
    name                TEXT NOT NULL DEFAULT '',
    topic               TEXT NOT NULL DEFAULT '',
    avatar_url          TEXT NOT NULL DEFAULT '',
    canonical_alias     TEXT NOT NULL DEFAULT '',
    alt_aliases         TEXT NOT NULL DEFAULT '[]',
    join_rule           TEXT NOT NULL DEFAULT '',
    history_visibility  TEXT NOT NULL DEFAULT 'shared',
    encrypted           BOOLEAN NOT NULL DEFAULT FALSE,
    predecessor_room_id TEXT NOT NULL DEFAULT '',
    successor_room_id   TEXT NOT NULL DEFAULT '',
    hidden              BOOLEAN NOT NULL DEFAULT FALSE,
    hidden_reason       TEXT NOT NULL DEFAULT '',
    message_count       BIGINT NOT NULL DEFAULT 0,
    first_ts            BIGINT NOT NULL DEFAULT 0,
    last_ts             BIGINT NOT NULL DEFAULT 0
);

-- Every alias a room has been seen with, so an old link keeps resolving.
CREATE TABLE room_aliases (
    alias   TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    seen_ts BIGINT NOT NULL
);

CREATE TABLE events (
    nid         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
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
    content     TEXT NOT NULL,
    raw         TEXT NOT NULL,
    redacted    BOOLEAN NOT NULL DEFAULT FALSE,
    received_at BIGINT NOT NULL
);
CREATE INDEX events_room_ts ON events (room_id, origin_ts, nid);
CREATE INDEX events_state ON events (room_id, type, state_key, origin_ts) WHERE state_key IS NOT NULL;
CREATE INDEX events_rel ON events (rel_target, rel_type) WHERE rel_target <> '';

CREATE TABLE redactions (
    redaction_id TEXT PRIMARY KEY,
    target_id    TEXT NOT NULL,
    room_id      TEXT NOT NULL,
    sender       TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    origin_ts    BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    -- applied_at is NULL while the target is unknown; rejected is set when
    -- the target is known and the redaction is not valid for it.
    applied_at   BIGINT,
    rejected     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX redactions_target ON redactions (target_id);

CREATE TABLE changes (
    pos      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind     TEXT NOT NULL,
    room_id  TEXT NOT NULL,
    event_id TEXT NOT NULL DEFAULT '',
    at       BIGINT NOT NULL
);
