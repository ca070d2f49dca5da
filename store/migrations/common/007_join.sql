-- 007_join: what the archiver must remember across a crash about joining
-- rooms and reading their history. (IF NOT EXISTS: re-running it is
-- harmless, as on a database whose recorded version was set back.)

-- Per room: its backfill ('' never tried, 'failed': retried from next_at,
-- the back-off doubling with attempts, 'complete'), and since when it has
-- not been world-readable (0: it is), so the bot can leave after a while.
CREATE TABLE IF NOT EXISTS room_follow (
    room_id          TEXT PRIMARY KEY,
    backfill_state   TEXT NOT NULL DEFAULT '',
    backfill_attempts INTEGER NOT NULL DEFAULT 0,
    backfill_next_at BIGINT NOT NULL DEFAULT 0,
    backfill_error   TEXT NOT NULL DEFAULT '',
    not_public_since BIGINT NOT NULL DEFAULT 0
);
-- Backfills that finished before this migration are complete.
INSERT INTO room_follow (room_id, backfill_state)
    SELECT room_id, 'complete' FROM room_sync WHERE backfilled_at > 0
    ON CONFLICT (room_id) DO NOTHING;

-- Joins asked for (an invite, a tombstone) and not yet carried out, so that
-- a crash or a homeserver outage after the ack loses none. kind says what
-- must be checked before archiving (the inviter's power, the replacement's
-- predecessor); via is a space-separated list of servers.
CREATE TABLE IF NOT EXISTS pending_joins (
    target      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    inviter     TEXT NOT NULL DEFAULT '',
    predecessor TEXT NOT NULL DEFAULT '',
    via         TEXT NOT NULL DEFAULT '',
    added_at    BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);
