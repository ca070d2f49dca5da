-- 031_media_server_claims: the files of one server hold at most a few
-- download slots at once, over every fetcher sharing media_queue
-- (store.MediaClaimsPerServer): a server dripping its files for the
-- client's whole timeout held them all. Each claim counts the live claims
-- (lease_until in the future) of each server on this index, which holds
-- only claimed rows (lease_until > 0: the downloads in flight, and the
-- claims of a killed process until they are taken again): queueing a
-- fetch writes nothing to it, and counting reads a few rows however long
-- the queue, in the order of their server.
CREATE INDEX IF NOT EXISTS media_queue_leased ON media_queue (server, lease_until) WHERE lease_until > 0;
