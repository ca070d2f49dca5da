-- unless-column: media_queue.site
-- 032_media_site: a media server's files are bounded in flight by the
-- owner of its name (store.mediaSite: its registrable domain, or its
-- address block), not by the name as written, since one owner names as
-- many servers as they like (a wildcard DNS record: a1.evil.org,
-- a2.evil.org, …; or one host's ports). Each queued fetch keeps its site;
-- the queued rows of an older database get theirs from Go after this
-- file (store.fillMediaSites), in the same transaction. The claimed rows'
-- index now counts by site.
ALTER TABLE media_queue ADD COLUMN site TEXT NOT NULL DEFAULT '';
DROP INDEX IF EXISTS media_queue_leased;
CREATE INDEX IF NOT EXISTS media_queue_site_leased ON media_queue (site, lease_until) WHERE lease_until > 0;
