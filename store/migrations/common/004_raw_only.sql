-- only-if-column: events.content
-- 004_raw_only: an event's content is read from its raw JSON, which holds
-- it already; the separate content column (written twice per event) goes.
-- New rooms get history_visibility '' (unknown) from the code, not from
-- version 1's default of 'shared'.
ALTER TABLE events DROP COLUMN content;
