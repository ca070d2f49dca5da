-- 003_consent: retention, opt-outs, operator actions.
-- The room's own m.room.retention max_lifetime in ms (NULL: it sets none;
-- the operator's default may still apply).
ALTER TABLE rooms ADD COLUMN retention_max_lifetime BIGINT;
-- A room purged by the operator: nothing of it is stored again.
ALTER TABLE rooms ADD COLUMN purged BOOLEAN NOT NULL DEFAULT FALSE;

-- What was deleted (expired, purged, erased) leaves its ID here, so that a
-- retried transaction or a backfill can never bring it back.
CREATE TABLE tombstones (
    event_id TEXT PRIMARY KEY,
    room_id  TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at       BIGINT NOT NULL
);

-- Users who asked that their messages not be shown.
CREATE TABLE optouts (
    user_id TEXT PRIMARY KEY,
    at      BIGINT NOT NULL,
    via     TEXT NOT NULL
);

-- Every operator command that changed something (and every dry run).
CREATE TABLE operator_log (
    at       BIGINT NOT NULL,
    actor    TEXT NOT NULL,
    command  TEXT NOT NULL,
    target   TEXT NOT NULL,
    reason   TEXT NOT NULL DEFAULT '',
    dry_run  BOOLEAN NOT NULL,
    affected BIGINT NOT NULL
);

-- A change that concerns all of one user's messages (opt-out, erasure).
ALTER TABLE changes ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
CREATE INDEX events_sender ON events (sender, origin_ts);
