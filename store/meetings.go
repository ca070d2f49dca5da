package store

import (
	"context"
	"fmt"

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
const meetingStartsSQL = `SELECT ` + eventColumns + ` FROM events
	WHERE room_id = $1 AND public AND ` + timelineMessageSQL + ` AND type = '` + event.TypeMessage + `'
	  AND (LOWER(raw) LIKE '%startmeeting%'
	    OR event_id IN (SELECT x.rel_target FROM events x
	      WHERE x.room_id = $1 AND x.public AND x.rel_type = '` + event.RelReplace + `' AND LOWER(x.raw) LIKE '%startmeeting%'))
	ORDER BY origin_ts, nid LIMIT $2`

// MeetingStarts returns a room's public messages that mention
// "startmeeting", or whose edits do, screened like every read (expired and opted-out ones
// dropped or withdrawn), in timeline order, at most MaxMeetings.
func (s *Store) MeetingStarts(ctx context.Context, roomID id.RoomID) ([]Event, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	evs, err := s.queryEvents(ctx, meetingStartsSQL, string(roomID), MaxMeetings)
	if err != nil {
		return nil, fmt.Errorf("meeting starts of %s: %w", roomID, err)
	}
	return s.screen(ctx, evs, false)
}
