-- unless-column: media_queue.site
-- 032_media_site: as common/032_media_site.sql, with the column compared
-- as bytes, as every text column is since 021.
ALTER TABLE media_queue ADD COLUMN site TEXT COLLATE "C" NOT NULL DEFAULT '';
DROP INDEX IF EXISTS media_queue_leased;
CREATE INDEX IF NOT EXISTS media_queue_site_leased ON media_queue (site, lease_until) WHERE lease_until > 0;
