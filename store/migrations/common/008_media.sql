-- 008_media: the archive's own copies of media (issue 15).
-- media_refs: which archived public event refers to which mxc URI (its url
-- or info.thumbnail_url), written in the same transaction as the event and
-- deleted when the event's content is erased (redaction, takedown, expiry,
-- erasure, purge). A media URL is served only while a visible event refers
-- to it.
CREATE TABLE IF NOT EXISTS media_refs (
    event_id TEXT NOT NULL,
    room_id  TEXT NOT NULL,
    server   TEXT NOT NULL,
    media_id TEXT NOT NULL,
    PRIMARY KEY (event_id, server, media_id)
);
CREATE INDEX IF NOT EXISTS media_refs_mxc ON media_refs (server, media_id);
-- media: what was fetched for an mxc URI: the blob (SHA-256 of the bytes,
-- content-addressed, so the same file under two URIs is stored once), its
-- size and the type sniffed from the bytes; thumb_sha256 a thumbnail the
-- archive made of a large image ('' for none). erased_at > 0: every
-- reference went, the row stays so the URL answers 410 rather than 404.
CREATE TABLE IF NOT EXISTS media (
    server       TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    fetched_at   BIGINT NOT NULL,
    thumb_sha256 TEXT NOT NULL DEFAULT '',
    thumb_type   TEXT NOT NULL DEFAULT '',
    erased_at    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (server, media_id)
);
CREATE INDEX IF NOT EXISTS media_sha256 ON media (sha256);
CREATE INDEX IF NOT EXISTS media_thumb_sha256 ON media (thumb_sha256);
-- media_queue: fetches still to do, written with the event so that an
-- archiver killed mid-download resumes; attempts and next_at pace retries,
-- gave_up stops them until `archiver media fetch`.
CREATE TABLE IF NOT EXISTS media_queue (
    server   TEXT NOT NULL,
    media_id TEXT NOT NULL,
    room_id  TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at  BIGINT NOT NULL DEFAULT 0,
    error    TEXT NOT NULL DEFAULT '',
    gave_up  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (server, media_id)
);
CREATE INDEX IF NOT EXISTS media_queue_due ON media_queue (next_at);
-- media_orphans: blobs no media row names any more; the archiver deletes
-- their bytes, then the row.
CREATE TABLE IF NOT EXISTS media_orphans (
    sha256 TEXT PRIMARY KEY,
    since  BIGINT NOT NULL
);
