package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// MaxMeetings bounds the meetings one room lists.
const MaxMeetings = 1000

// meetingStartsSQL finds the messages that may start a meeting. The match
// on the raw JSON is a cheap filter, never the rule: the meeting package
// decides from the text as shown (a mention of "#startmeeting" inside a
// sentence passes here and starts nothing). A redacted message has lost its
// body, so it is not found. A message is shown after its latest valid
// edit, so an original that an edit mentioning "startmeeting" targets is a
// candidate too (at the original's time, where meetbot users expect the
// meeting to start); whether that edit is valid, and the latest, is
// event.Resolve's to say, not this filter's. Edits themselves are never
// starts.
//
// Both halves are read from events_meeting, the index of exactly the
// messages (edits included) whose JSON mentions "startmeeting" (migration
// 013): with one OR of the two, every meetings page read the whole room,
// 0.6 s for a room of 260,000 events on PostgreSQL and on SQLite alike,
// and longer with every message the room gets. The index's condition is
// repeated word for word, as SQLite requires to use it.
var (
	meetingStartsSQL = meetingStarts("", "")
	// meetingStartsSQLite is meetingStartsSQL as SQLite runs it
	// (sqliteForm), told its indexes: it plans without statistics, and
	// to it a probe of events_eh (an event's ID hash) and one of
	// events_room_ts (its room) look alike, so it looked the originals up
	// by the room, each a walk of the room's events.
	meetingStartsSQLite = sqliteForm(meetingStarts(" INDEXED BY events_meeting", " INDEXED BY events_eh"))
)

// meetingStarts is the text of meetingStartsSQL, with mentions and
// originals (SQLite's INDEXED BY clauses, or "") naming the indexes the
// mentions and the originals are read from.
func meetingStarts(mentions, originals string) string {
	return `SELECT ` + eventColumns + ` FROM events` + mentions + `
	WHERE room_id = $1 AND ` + meetingMention("events") + ` AND public AND ` + timelineMessageSQL + ` AND origin_ts <= $3
	UNION
	SELECT ` + qualified(eventColumns, "e") + ` FROM events x` + mentions + ` JOIN events e` + originals + ` ON idh(e.event_id) = idh(x.rel_target) AND e.event_id = x.rel_target
	WHERE x.room_id = $1 AND ` + meetingMention("x") + ` AND x.public AND x.rel_type = '` + event.RelReplace + `'
	  AND e.room_id = $1 AND e.public AND e.type = '` + event.TypeMessage + `' AND e.rel_type <> '` + event.RelReplace + `' AND e.origin_ts <= $3
	ORDER BY origin_ts DESC, nid DESC LIMIT $2`
}

// meetingMention is events_meeting's condition (migration 013) on the
// events aliased alias, for a query that may use the index (SQLite's
// planner matches it term by term).
func meetingMention(alias string) string {
	return alias + `.type = '` + event.TypeMessage + `' AND LOWER(` + alias + `.raw) LIKE '%startmeeting%'`
}

// qualified is a list of columns ("a, b") with each prefixed by alias.
func qualified(cols, alias string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// MeetingStarts returns a room's public messages that mention
// "startmeeting", or whose edits do, screened like every read (expired and
// opted-out ones dropped or withdrawn), in timeline order: the newest
// MaxMeetings of those sent at or before the time until (ms; 0 for any
// time). The oldest were kept until a room had more: a channel of
// thousands of meetings (an IRC meeting channel's years) listed no new
// meeting, nor did one where 1,000 messages mentioned the word.
func (s *Store) MeetingStarts(ctx context.Context, roomID id.RoomID, until int64) ([]Event, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	query := meetingStartsSQL
	if s.dialect == sqlite {
		query = meetingStartsSQLite
	}
	if until <= 0 {
		until = 1 << 62
	}
	evs, err := s.queryEvents(ctx, query, string(roomID), MaxMeetings, until)
	if err != nil {
		return nil, fmt.Errorf("meeting starts of %s: %w", roomID, err)
	}
	slices.Reverse(evs)
	return s.screen(ctx, evs, false)
}
