-- 005_poison: events the database refused, kept aside for the operator.
-- When a batch fails on a value the database will not hold, it is retried
-- in parts until the offending events are alone; each is kept here with the
-- database's error, never shown, and the rest of the batch commits
-- (ARCHITECTURE.md rule 7). raw is the event's JSON as received: event.Parse
-- admits only UTF-8, and JSON writes U+0000 as an ASCII escape, so it is
-- always text both databases hold. IF NOT EXISTS: a development database
-- set back to an earlier version (migrate_test.go) runs it again.
CREATE TABLE IF NOT EXISTS quarantine (
    event_id    TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL,
    -- Where the event came from the last time: txn, sync, sweep, import,
    -- backfill, state (read on joining) or other.
    source      TEXT NOT NULL,
    error       TEXT NOT NULL,
    raw         TEXT NOT NULL,
    first_at    BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS quarantine_last ON quarantine (last_at);
