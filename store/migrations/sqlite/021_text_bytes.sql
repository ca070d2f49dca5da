-- 021_text_bytes: PostgreSQL's text columns compare as bytes from here on,
-- as SQLite's (BINARY) always have: nothing to change.
SELECT 1;
