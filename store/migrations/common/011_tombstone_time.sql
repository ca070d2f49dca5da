-- 011_tombstone_time: a deleted event's origin_server_ts, kept with its
-- tombstone. The search index names a message's document by its time
-- (index format 5); when the purge or an erasure deletes the row, this is
-- where the index finds the time to delete the document. NULL for events
-- deleted before this migration.
ALTER TABLE tombstones ADD COLUMN origin_ts BIGINT;
