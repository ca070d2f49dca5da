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
--
-- Only mxarchive's own tables, as this migration finds them, are
-- altered: a database or schema shared with other programs keeps their
-- tables (and views) as they are. PostgreSQL cannot change the type of a
-- column a view uses; a view of the operator's over mxarchive's tables
-- stops the migration, with the views named and what to do, before
-- anything is changed (TestTextBytesMigrationLeavesOthers).
DO $$
DECLARE
    ours text[] := ARRAY['alias_claims', 'appservice_txns', 'changes', 'events', 'media', 'media_orphans',
        'media_queue', 'media_refs', 'operator_log', 'optouts', 'pending_joins', 'quarantine', 'redactions',
        'room_aliases', 'room_follow', 'room_sync', 'rooms', 'schema_version', 'tombstones'];
    views text;
    t record;
BEGIN
    SELECT string_agg(DISTINCT v.oid::regclass::text, ', ') INTO views
    FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
        AND d.refobjid = ANY (SELECT c.oid FROM pg_class c
                              WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = current_schema())
                                  AND c.relname = ANY (ours))
        AND v.oid <> d.refobjid;
    IF views IS NOT NULL THEN
        RAISE EXCEPTION 'migration 021 makes mxarchive''s text columns compare as bytes (COLLATE "C"), and PostgreSQL cannot change a column a view uses; these views use mxarchive''s tables: %. Drop them, start mxarchive again so that it migrates, then create them again', views;
    END IF;
    FOR t IN
        SELECT c.table_name,
               string_agg(format('ALTER COLUMN %I TYPE text COLLATE "C"', c.column_name), ', ' ORDER BY c.ordinal_position) AS alters
        FROM information_schema.columns c
        JOIN information_schema.tables b ON b.table_schema = c.table_schema AND b.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND b.table_type = 'BASE TABLE' AND c.table_name = ANY (ours)
            AND c.data_type = 'text' AND c.collation_name IS DISTINCT FROM 'C'
        GROUP BY c.table_name
    LOOP
        EXECUTE format('ALTER TABLE %I %s', t.table_name, t.alters);
    END LOOP;
END
$$;
