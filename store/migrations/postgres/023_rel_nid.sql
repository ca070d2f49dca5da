-- 023_rel_nid: events_rel holds nid on PostgreSQL, as every index of
-- events does on SQLite (its rowid), so that a target's relations of a
-- kind are walked from the latest to arrive and no further than Related
-- keeps (relationWalk: ORDER BY nid DESC LIMIT MaxRelated). Without it
-- each read of a message with 20,000 thread replies or edits read and
-- sorted all of them: 30 ms for ThreadRoots and LatestEdits, 184 for
-- Related (BenchmarkThreadRoots, BenchmarkLatestEdits, BenchmarkRelated).
-- The index is partial, as before: it holds the relations only, so its
-- build at upgrade reads events once and writes as many entries as the
-- archive has relations.
DROP INDEX events_rel;
CREATE INDEX events_rel ON events (rel_target, rel_type, nid) WHERE rel_target <> '';
