-- 009_media_lease: `archiver media fetch` may run beside `archiver run`,
-- both fetching from media_queue. A fetcher claims the rows it is about to
-- download (lease_owner, a token of its own, until lease_until, renewed
-- while it works), so one file is downloaded by one process; a killed
-- process's claims lapse. quota: the last attempt was refused because the
-- media store was full (media.max_total); such rows wait for space without
-- counting as failures.
ALTER TABLE media_queue ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE media_queue ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE media_queue ADD COLUMN quota BOOLEAN NOT NULL DEFAULT FALSE;
