-- 012_state_nid: events_state ends with nid, the tie-break of every "latest
-- state event before this one" and "current state" query (ORDER BY
-- origin_ts DESC, nid DESC LIMIT 1). Without it PostgreSQL read and sorted
-- every state event of the key to find one: a user's member events, which
-- an IRC channel's joins and quits make thousands, cost a day page 70 ms
-- per join shown. SQLite's index entries end with the rowid (nid) anyway.
DROP INDEX events_state;
CREATE INDEX events_state ON events (room_id, type, state_key, origin_ts, nid) WHERE state_key IS NOT NULL;
