-- 006_alias: room state only claims an alias (m.room.canonical_alias is
-- set by any room admin); a claim routes URLs only once verified.
-- Each alias a room's latest canonical_alias event names, and what the
-- homeserver's directory said about it. checked_ts 0 means not asked yet;
-- a new canonical_alias event (event_id) makes the claim pending again.
CREATE TABLE alias_claims (
    alias      TEXT NOT NULL,
    room_id    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    claimed_ts BIGINT NOT NULL,
    checked_ts BIGINT NOT NULL DEFAULT 0,
    outcome    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (alias, room_id)
);
CREATE INDEX alias_claims_pending ON alias_claims (checked_ts, claimed_ts);
CREATE INDEX alias_claims_room ON alias_claims (room_id);

-- room_aliases becomes the routes: at most one room per alias (its primary
-- key), written only from a verified claim ('directory') or an imported
-- room's claim nobody else makes ('unclaimed'). Rows stay when the room
-- drops the alias, so old links keep resolving.
ALTER TABLE room_aliases ADD COLUMN how TEXT NOT NULL DEFAULT 'unclaimed';
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- Routes written before verification existed are last-writer-wins claims:
-- each becomes a pending claim, and stays a route only where no other
-- room's canonical alias names it (the rule for imports).
INSERT INTO alias_claims (alias, room_id, event_id, claimed_ts)
    SELECT alias, room_id, '', seen_ts FROM room_aliases;
INSERT INTO alias_claims (alias, room_id, event_id, claimed_ts)
    SELECT canonical_alias, room_id, '', 0 FROM rooms WHERE canonical_alias LIKE '#%'
    ON CONFLICT (alias, room_id) DO NOTHING;
DELETE FROM room_aliases WHERE EXISTS (SELECT 1 FROM alias_claims c
    WHERE c.alias = room_aliases.alias AND c.room_id <> room_aliases.room_id);
