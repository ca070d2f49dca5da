package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// SenderName is a display name one sender went by on a day (Event's
// SenderName: "" for none, or withdrawn).
type SenderName struct {
	Sender id.UserID
	Name   string
}

// dayNamesSQL reads the distinct (sender_name, sender) pairs of the
// events a day's text log writes a line for (those DayPage returns that
// are timeline messages, or poll starts not redacted; not expired, $4
// being the room's cutoff), with whether the pair wrote a message (the
// opted out's messages stay, withdrawn, their polls go).
const dayNamesSQL = `SELECT DISTINCT sender_name, sender, CASE WHEN ` + timelineMessageSQL + ` THEN 1 ELSE 0 END AS msg FROM events
	WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3 AND origin_ts >= $4 AND public
	  AND ((` + timelineMessageSQL + `) OR (` + pollStartSQL + ` AND NOT redacted))
	ORDER BY sender, sender_name, msg
	LIMIT $5`

// DayNames returns the names that the senders of a room's UTC day
// [from, to) (ms) text log's lines (the public messages and the
// unredacted polls DayPage returns, screened as it screens them: an
// opted-out sender's messages lose their name, their polls go) went by,
// each (name, sender) pair once. At most limit of them; more reports that
// there were more. It reads each of the day's events' rows once, without
// their JSON: a text log streamed a read at a time (a flood) decides from
// it which names its lines tell apart, as the whole day's log does from
// its events (the caller compares the names as it writes them).
func (s *Store) DayNames(ctx context.Context, roomID id.RoomID, from, to int64, limit int) (names []SenderName, more bool, err error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("day names of %s: limit %d", roomID, limit)
	}
	cut, err := s.expiryCut(ctx, roomID)
	if err != nil {
		return nil, false, err
	}
	_, optouts, err := s.consentView(ctx)
	if err != nil {
		return nil, false, err
	}
	seen := map[SenderName]bool{}
	n := 0
	err = s.scanRows(ctx, dayNamesSQL, []any{string(roomID), from, to, cut, limit + 1}, func(rows *sql.Rows) error {
		var name, sender string
		var msg int
		if err := rows.Scan(&name, &sender, &msg); err != nil {
			return err
		}
		if n++; n > limit {
			more = true
			return nil
		}
		p := SenderName{Sender: id.UserID(sender), Name: name}
		if optouts[p.Sender] {
			if msg == 0 {
				return nil // an opted-out sender's poll is not shown
			}
			p.Name = "" // screen withdraws their messages' names
		}
		if !seen[p] {
			seen[p] = true
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("day names of %s: %w", roomID, err)
	}
	return names, more, nil
}

// DeletedEventTime returns the room and origin_server_ts of an event the
// archive held and deleted on purpose (expired, purged, erased), from its
// tombstone: ErrNotFound for an event it never held (a withheld one's
// tombstone included) and for one deleted before tombstones kept times.
// A link that named the event (a day page's ?after=) finds its place in
// the timeline by it.
func (s *Store) DeletedEventTime(ctx context.Context, eventID id.EventID) (id.RoomID, int64, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var room string
	var ts sql.NullInt64
	err := s.queryRow(ctx, `SELECT room_id, origin_ts FROM tombstones WHERE event_id = $1 AND reason <> $2`, string(eventID), TombstoneNotPublic).Scan(&room, &ts)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !ts.Valid {
		return "", 0, fmt.Errorf("time of deleted %s: %w", eventID, ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("time of deleted %s: %w", eventID, err)
	}
	return id.RoomID(room), ts.Int64, nil
}
