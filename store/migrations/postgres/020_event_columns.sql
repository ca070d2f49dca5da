-- 020_event_columns: on SQLite the ID's hash and events_meeting's
-- condition become columns of events (store/idh.go). PostgreSQL indexes
-- the ID itself and the condition as an expression, and keeps no
-- statement journal: nothing to change.
SELECT 1;
