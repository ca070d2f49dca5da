-- 021_text_bytes: every text column compares as bytes (COLLATE "C"), as
-- SQLite's BINARY does, whatever locale the cluster was made with. With
-- the database's default collation each comparison of two IDs in a
-- B-tree went through the locale (strcoll, or ICU), and an insert into
-- events updates up to eleven indexes, most keyed by room, sender or ID;
-- the meetings index's LOWER(raw) converted each message's JSON to wide
-- characters and back. 300,000 of the 1M replay's events' IDs put into
-- three such indexes: 5.5-5.7 s as C.UTF-8, 6.7 as ICU en-US, 4.0-4.4 as
-- bytes; LOWER of their JSON 1.2-1.4 s against 0.5-0.8. IDs have no
-- linguistic order: ORDER BY room_id now gives SQLite's order, and LOWER
-- folds ASCII letters only, as SQLite's does. A collation alone changes
-- no row's bytes: no table is rewritten, the indexes on text are rebuilt
-- (10 s for the 1M archive). A later migration that adds a text column
-- on PostgreSQL declares it COLLATE "C" (TestTextComparesAsBytes).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT table_name,
               string_agg(format('ALTER COLUMN %I TYPE text COLLATE "C"', column_name), ', ' ORDER BY ordinal_position) AS alters
        FROM information_schema.columns
        WHERE table_schema = current_schema() AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'
        GROUP BY table_name
    LOOP
        EXECUTE format('ALTER TABLE %I %s', t.table_name, t.alters);
    END LOOP;
END
$$;
