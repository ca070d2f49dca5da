package store

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// archiveControlsSQL finds, for each listed room, its latest
// archive_controls state event of each type (MSC4021, stable and unstable),
// by one index probe per room and type (events_state), so a room whose
// admins sent thousands of them costs no more than one that sent one. The
// types are written into the text: the placeholders are the room list's.
var archiveControlsSQL = `SELECT e.room_id, e.type, e.raw FROM events e WHERE e.nid IN (
	SELECT (SELECT l.nid FROM events l
		WHERE l.room_id = r.room_id AND l.type = t.type AND l.state_key = '' AND ` + sentInTimeOf("l.") + `
		ORDER BY l.origin_ts DESC, l.nid DESC LIMIT 1)
	FROM rooms r CROSS JOIN (SELECT '` + event.TypeArchiveControls + `' AS type
		UNION ALL SELECT '` + event.TypeArchiveControlsUnstable + `') t
	WHERE r.room_id IN (%s))`

// ArchiveControls returns what the current m.room.archive_controls of each
// of rooms asks (MSC4021: robots directives, and "archive": false for no
// public listing), for the rooms that have one: the stable type's latest
// event, else the unstable type's. It reads the rooms in chunks of
// maxIDsPerQuery, whatever their number, so a listing of every room costs
// a few queries, not one per room.
func (s *Store) ArchiveControls(ctx context.Context, rooms []id.RoomID) (map[id.RoomID]event.ArchiveControls, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	out := map[id.RoomID]event.ArchiveControls{}
	stable := map[id.RoomID]bool{}
	for len(rooms) > 0 {
		n := min(len(rooms), maxIDsPerQuery)
		// One text for any number of rooms (idList): a page asks for
		// its one room, prepared once.
		list, args, err := idList(s.dialect, rooms[:n])
		if err != nil {
			return nil, fmt.Errorf("archive controls: %w", err)
		}
		rooms = rooms[n:]
		rows, err := s.query(ctx, fmt.Sprintf(archiveControlsSQL, list), args...)
		if err != nil {
			return nil, fmt.Errorf("archive controls: %w", err)
		}
		for rows.Next() {
			var room, typ, raw string
			if err := rows.Scan(&room, &typ, &raw); err != nil {
				rows.Close()
				return nil, fmt.Errorf("archive controls: %w", err)
			}
			r := id.RoomID(room)
			if stable[r] {
				continue // the stable type wins over the unstable one
			}
			stable[r] = typ == event.TypeArchiveControls
			out[r] = event.ParseArchiveControls(event.ContentOf([]byte(raw)))
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("archive controls: %w", err)
		}
	}
	return out, nil
}
