-- 002_appservice: what the application service needs. Transactions it has
-- committed (for operators; idempotence itself is per event), how far each
-- room's history is known, and the archive bot's membership: a room whose bot
-- was kicked or banned is hidden until the bot is back.
CREATE TABLE appservice_txns (
    txn_id      TEXT PRIMARY KEY,
    events      INTEGER NOT NULL,
    deliveries  INTEGER NOT NULL DEFAULT 1,
    received_at BIGINT NOT NULL
);

CREATE TABLE room_sync (
    room_id        TEXT PRIMARY KEY,
    -- Position for the forward /messages sweep that catches what
    -- transactions missed.
    forward_token  TEXT NOT NULL DEFAULT '',
    -- History is complete from complete_from_ts up to the present; 0 means
    -- no backfill has finished yet. reached_create: back to the room's start.
    complete_from_ts BIGINT NOT NULL DEFAULT 0,
    reached_create BOOLEAN NOT NULL DEFAULT FALSE,
    backfilled_at  BIGINT NOT NULL DEFAULT 0,
    sweep_at       BIGINT NOT NULL DEFAULT 0
);

ALTER TABLE rooms ADD COLUMN bot_membership TEXT NOT NULL DEFAULT '';
