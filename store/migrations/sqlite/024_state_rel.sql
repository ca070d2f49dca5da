-- 024_state_rel: a state event is no relation (an edit, reaction, thread
-- reply or reference is a message event; Matrix has no relation of a
-- state event), and the writer keeps none since (ingest). One kept
-- before made the event a relation to the archive: a member event that
-- said it replaced another message was left out of the day as an edit,
-- and its permalink led to that message, so a rename or a ban could be
-- hidden. Found through events_rel, which holds only relations.
UPDATE events SET rel_type = '', rel_target = '', rel_key = ''
	WHERE rel_target <> '' AND state_key IS NOT NULL;
