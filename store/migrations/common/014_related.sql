-- 014_related: events.related says that some event names this one as its
-- relation's target (rel_target): an edit, reaction, thread reply or
-- reference, whatever its room, redacted or not. The writer sets it for
-- the targets of the relations it stores and for a stored event that a
-- relation already named (writer.markRelated); nothing clears it, so it
-- may say so of an event whose relations are gone, never the reverse.
-- events_related lists these events by room and time, so that a day
-- page's relations (RelatedIn) are found from the day's related events
-- alone, not by probing events_rel with each of the day's events.
ALTER TABLE events ADD COLUMN related BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE events SET related = TRUE WHERE event_id IN (SELECT rel_target FROM events WHERE rel_target <> '');
CREATE INDEX events_related ON events (room_id, origin_ts, nid) WHERE related;
