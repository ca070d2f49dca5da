-- 023_rel_nid: PostgreSQL's events_rel gains nid, which SQLite's has
-- always held (every index of a table holds its rowid, here nid):
-- nothing to change.
SELECT 1;
