package store

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// A day is read in pages: a busy day (a bridge flooding a room, say) holds
// more events than one page should render, and every one of them must stay
// reachable, so pages follow each other by position instead of being cut.

const (
	// dayPageSQL is dayEventsSQL from a position on: events after
	// (origin_ts, nid) = ($4, $5). Row values compare the same way in both
	// databases and walk events_room_ts.
	dayPageSQL = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3 AND (origin_ts, nid) > ($4, $5) AND public
		  AND type NOT IN ('m.reaction', 'm.room.redaction') AND rel_type <> 'm.replace'
		ORDER BY origin_ts, nid LIMIT $6`
	// dayPageBeforeSQL reads backwards from a position: the events before
	// (origin_ts, nid) = ($3, $4), newest first.
	dayPageBeforeSQL = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND origin_ts >= $2 AND (origin_ts, nid) < ($3, $4) AND public
		  AND type NOT IN ('m.reaction', 'm.room.redaction') AND rel_type <> 'm.replace'
		ORDER BY origin_ts DESC, nid DESC LIMIT $5`
)

// Position is a place in a room's timeline: an event's origin_ts and nid
// (timeline order). The zero Position is before every event.
type Position struct {
	TS  int64
	NID int64
}

// PositionOf is the position of e itself.
func PositionOf(e Event) Position { return Position{TS: e.OriginTS, NID: e.NID} }

// DayPage returns the events a day page shows (as DayEvents) in [from, to)
// that come after the position after, at most limit of them in timeline
// order; more reports that further events follow in the range.
func (s *Store) DayPage(ctx context.Context, roomID id.RoomID, from, to int64, after Position, limit int) (evs []Event, more bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if limit <= 0 {
		return nil, false, fmt.Errorf("day page of %s: limit %d", roomID, limit)
	}
	// The position may lie before the day (the zero Position does).
	evs, err = s.queryEvents(ctx, dayPageSQL, string(roomID), from, to, after.TS, after.NID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("day page of %s: %w", roomID, err)
	}
	if len(evs) > limit {
		evs, more = evs[:limit], true
	}
	evs, err = s.screen(ctx, evs, false)
	if err != nil {
		return nil, false, fmt.Errorf("day page of %s: %w", roomID, err)
	}
	return evs, more, nil
}

// DayPageBefore returns the events a day page shows from from (ms) up to,
// not including, the position before: the last limit of them, in timeline
// order; more reports that earlier ones exist in the range.
func (s *Store) DayPageBefore(ctx context.Context, roomID id.RoomID, from int64, before Position, limit int) (evs []Event, more bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if limit <= 0 {
		return nil, false, fmt.Errorf("day page of %s: limit %d", roomID, limit)
	}
	evs, err = s.queryEvents(ctx, dayPageBeforeSQL, string(roomID), from, before.TS, before.NID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("day page of %s: %w", roomID, err)
	}
	if len(evs) > limit {
		evs, more = evs[:limit], true
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	evs, err = s.screen(ctx, evs, false)
	if err != nil {
		return nil, false, fmt.Errorf("day page of %s: %w", roomID, err)
	}
	return evs, more, nil
}

// countsSQL counts a room's shown messages per bucket of $4 ms (a day, an
// hour) in [$2, $3). Its cost grows with the messages of the range (a
// month or a year, a busy day), each read through events_room_ts; integer
// division is the same in both databases.
const countsSQL = `SELECT origin_ts / $4, COUNT(*) FROM events
	WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3 AND ` + shownMessageCond + `
	GROUP BY 1`

// DayCounts returns how many messages of a room are shown in full on each
// UTC day of [from, to) (ms) that has any, keyed by the day's midnight
// (ms); expired days are left out, as everywhere.
func (s *Store) DayCounts(ctx context.Context, roomID id.RoomID, from, to int64) (map[int64]int, error) {
	return s.counts(ctx, roomID, from, to, 86400000)
}

// HourCounts is DayCounts by the hour: keyed by the start of each hour
// (ms) of [from, to) with shown messages.
func (s *Store) HourCounts(ctx context.Context, roomID id.RoomID, from, to int64) (map[int64]int, error) {
	return s.counts(ctx, roomID, from, to, 3600000)
}

func (s *Store) counts(ctx context.Context, roomID id.RoomID, from, to, bucket int64) (map[int64]int, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return nil, err
	}
	if _, expires := s.maxLifetime(roomMax, roomID); expires {
		from = max(from, s.expiredBefore(roomMax, roomID))
	}
	out := map[int64]int{}
	if from >= to {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, countsSQL, string(roomID), from, to, bucket)
	if err != nil {
		return nil, fmt.Errorf("message counts of %s: %w", roomID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b int64
		var n int
		if err := rows.Scan(&b, &n); err != nil {
			return nil, fmt.Errorf("message counts of %s: %w", roomID, err)
		}
		out[b*bucket] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("message counts of %s: %w", roomID, err)
	}
	return out, nil
}

// latestMessagesSQL reads a room's newest shown messages backwards along
// events_room_ts, from the expiry cutoff ($2) on.
const latestMessagesSQL = `SELECT ` + eventColumns + ` FROM events
	WHERE room_id = $1 AND origin_ts >= $2 AND ` + shownMessageCond + `
	ORDER BY origin_ts DESC, nid DESC LIMIT $3`

// LatestMessages returns a room's newest messages shown in full (public,
// not an edit, not redacted, not expired, the sender not opted out),
// newest first, at most limit: what a feed of the room lists, so that a
// message deleted, expired or withdrawn leaves it at once.
func (s *Store) LatestMessages(ctx context.Context, roomID id.RoomID, limit int) ([]Event, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return nil, err
	}
	evs, err := s.queryEvents(ctx, latestMessagesSQL, string(roomID), s.expiredBefore(roomMax, roomID), limit)
	if err != nil {
		return nil, fmt.Errorf("latest messages of %s: %w", roomID, err)
	}
	return s.screen(ctx, evs, false)
}
