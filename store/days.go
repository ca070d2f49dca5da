package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"

	"maunium.net/go/mautrix/id"
)

// A day is read in pages: a busy day (a bridge flooding a room, say) holds
// more events than one page should render, and every one of them must stay
// reachable, so pages follow each other by position instead of being cut.

const (
	// dayPageSQL is dayEventsSQL from a position on: events after
	// (origin_ts, nid) = ($4, $5). Row values compare the same way in both
	// databases and walk events_room_ts.
	//
	// Expired non-state events ($7 is the room's cutoff) are left out
	// here, as screen would drop them: a page screened empty would
	// otherwise end the day before its later messages.
	dayPageSQL = `SELECT ` + publicRoomEventColumns + ` FROM events
		WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3 AND (origin_ts, nid) > ($4, $5) AND public
		  AND ` + dayListedSQL + `
		  AND (origin_ts >= $7 OR state_key IS NOT NULL)
		ORDER BY origin_ts, nid LIMIT $6`
	// dayPageBeforeSQL reads backwards from a position: the events before
	// (origin_ts, nid) = ($3, $4), newest first.
	dayPageBeforeSQL = `SELECT ` + publicRoomEventColumns + ` FROM events
		WHERE room_id = $1 AND origin_ts >= $2 AND (origin_ts, nid) < ($3, $4) AND public
		  AND ` + dayListedSQL + `
		  AND (origin_ts >= $6 OR state_key IS NOT NULL)
		ORDER BY origin_ts DESC, nid DESC LIMIT $5`
)

// Position is a place in a room's timeline: an event's origin_ts and nid
// (timeline order). The zero Position is before every event.
type Position struct {
	TS  int64
	NID int64
}

// Compare orders p and q as the timeline does: -1 if p comes first, 1
// if q does, 0 if they are the same.
func (p Position) Compare(q Position) int {
	return cmp.Or(cmp.Compare(p.TS, q.TS), cmp.Compare(p.NID, q.NID))
}

// Before says whether p comes before q in the timeline.
func (p Position) Before(q Position) bool { return p.Compare(q) < 0 }

// PositionOf is the position of e itself.
func PositionOf(e Event) Position { return Position{TS: e.OriginTS, NID: e.NID} }

// expiryCut is the time (ms) before which the room's non-state events have
// expired; 0 when none have.
func (s *Store) expiryCut(ctx context.Context, roomID id.RoomID) (int64, error) {
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return 0, err
	}
	return s.expiredBefore(roomMax, roomID), nil
}

// dayPageSizeHint is the most events a day page's slice is made for
// before its query answers: a busy day's, not the 20,000 a JSON day may
// ask for.
const dayPageSizeHint = 1200

// DayPage returns the events a day page shows (as DayEvents) in [from, to)
// that come after the position after, at most limit of them in timeline
// order, and with maxBytes > 0 no more once they hold maxBytes of JSON
// (the event that reaches it is the last; queryEventsBounded); more
// reports that further events follow in the range.
//
// Events are counted and weighed: a member of a public room may post
// events as large as its homeserver lets through (event.MaxEventSize)
// all day, and what a page makes of a message's bytes is larger still
// (HTML and JSON escape them): 500 messages of 94,000 ampersands were a
// day page of 234 MB and a JSON day of 1 GB.
func (s *Store) DayPage(ctx context.Context, roomID id.RoomID, from, to int64, after Position, limit, maxBytes int) (evs []Event, more bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if limit <= 0 {
		return nil, false, fmt.Errorf("day page of %s: limit %d", roomID, limit)
	}
	cut, err := s.expiryCut(ctx, roomID)
	if err != nil {
		return nil, false, err
	}
	// The position may lie before the day (the zero Position does): it
	// is moved to the day's start, before any event of it. PostgreSQL
	// starts the index scan at the row value's bound, not at origin_ts's
	// when that is the tighter one, and so walked every earlier event of
	// the room to reach the day: a JSON day of the year 2048 in a room of
	// the bench's replay took 20 ms, not 1 (TestDayPageReadsOnlyItsDay).
	if after.TS < from {
		after = Position{TS: from, NID: math.MinInt64}
	}
	evs, more, err = s.queryEventsBounded(ctx, min(limit+1, dayPageSizeHint), maxBytes, roomID, dayPageSQL, string(roomID), from, to, after.TS, after.NID, limit+1, cut)
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
// order, and with maxBytes > 0 only the last that hold maxBytes of JSON
// (as DayPage); more reports that earlier ones exist in the range.
func (s *Store) DayPageBefore(ctx context.Context, roomID id.RoomID, from int64, before Position, limit, maxBytes int) (evs []Event, more bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if limit <= 0 {
		return nil, false, fmt.Errorf("day page of %s: limit %d", roomID, limit)
	}
	cut, err := s.expiryCut(ctx, roomID)
	if err != nil {
		return nil, false, err
	}
	evs, more, err = s.queryEventsBounded(ctx, min(limit+1, dayPageSizeHint), maxBytes, roomID, dayPageBeforeSQL, string(roomID), from, before.TS, before.NID, limit+1, cut)
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

// dayPlaceSQL weighs the events a day page shows from the day's start
// ($2) up to, not including, the position ($3, $4), in timeline order, at
// most $5 of them ($6: the room's expiry cutoff): dayPageSQL's rows,
// their JSON's length alone.
const dayPlaceSQL = `SELECT octet_length(raw) FROM events
		WHERE room_id = $1 AND origin_ts >= $2 AND (origin_ts, nid) < ($3, $4) AND public
		  AND ` + dayListedSQL + `
		  AND (origin_ts >= $6 OR state_key IS NOT NULL)
		ORDER BY origin_ts, nid LIMIT $5`

// OnFirstDayPage says whether the event at the position pos is on the
// first page of its day (which starts at from, ms) as DayPage gives it with
// limit and maxBytes: fewer than limit events come before it that day, and
// they hold less than maxBytes of JSON (the event that reaches it ends a
// page). It reads their lengths, not their JSON: a permalink links the
// whole day's page, not a page of its own, when the message is there.
func (s *Store) OnFirstDayPage(ctx context.Context, roomID id.RoomID, from int64, pos Position, limit, maxBytes int) (bool, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	cut, err := s.expiryCut(ctx, roomID)
	if err != nil {
		return false, err
	}
	n, weight := 0, 0
	err = s.scanRows(ctx, dayPlaceSQL, []any{string(roomID), from, pos.TS, pos.NID, limit, cut}, func(rows *sql.Rows) error {
		var l int
		if err := rows.Scan(&l); err != nil {
			return err
		}
		n, weight = n+1, weight+l
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("day place in %s: %w", roomID, err)
	}
	return n < limit && (maxBytes <= 0 || weight < maxBytes), nil
}

// MaxCount caps the messages DayCounts and HourCounts count per day or
// hour: a count of at least that many is reported as MaxCount. So a
// calendar costs at most MaxCount rows per day, however busy the room.
const MaxCount = 1000

// cappedCountSQL counts a room's shown messages in [$2, $3), up to $4;
// cappedPollCountSQL its polls.
const (
	cappedCountSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM events
	WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3 AND ` + shownMessageCond + `
	LIMIT $4) capped`
	cappedPollCountSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM events` + pollsIndexed + `
	WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3 AND ` + shownPollCond + `
	LIMIT $4) capped`
)

// DayCounts returns how many messages of a room are shown in full on each
// UTC day of [from, to) (ms) that has any, polls counted as messages, up
// to MaxCount, keyed by the day's midnight (ms); expired days are left
// out, as everywhere. The days are found by RoomDays' loose index scans
// (at most 400 of them), then each is counted up to the cap: its messages
// if it has any, and its polls if it has any.
func (s *Store) DayCounts(ctx context.Context, roomID id.RoomID, from, to int64) (map[int64]int, error) {
	msgs, polls, err := s.roomDays(ctx, roomID, from, to, 400)
	if err != nil {
		return nil, err
	}
	// Counted from the expiry cutoff too, as RoomDays lists: on the day
	// the cutoff falls in, the messages before it are expired but may not
	// be purged yet.
	cut, err := s.expiryCut(ctx, roomID)
	if err != nil {
		return nil, err
	}
	has := map[int64]int{} // of each day: 1 messages, 2 polls
	for i, days := range [][]Day{msgs, polls} {
		for _, d := range days {
			has[d.Start.UnixMilli()] |= 1 << i
		}
	}
	out := map[int64]int{}
	for _, d := range mergeDays(msgs, polls, 400) {
		start := d.Start.UnixMilli()
		for i, query := range []string{cappedCountSQL, cappedPollCountSQL} {
			if has[start]&(1<<i) == 0 {
				continue
			}
			n, err := s.countCapped(ctx, query, roomID, max(start, from, cut), min(start+86400000, to))
			if err != nil {
				return nil, err
			}
			out[start] = min(out[start]+n, MaxCount)
		}
	}
	return out, nil
}

// hourCountsSQL counts a room's shown messages and polls (as DayCounts
// does, a poll as a message; each hour's polls only if the hours have
// any, one seek: 24 seeks of events_polls took a busy day's counts from
// 0.20-0.38 ms to 0.25-0.42 on PostgreSQL, the seek to 0.21-0.23) in each
// hour from $5 (ms)
// to the last of the 24 starting at $2, each from the expiry cutoff $3 on
// and up to $4, in one query: the hours are generated (a recursive CTE, as
// both dialects have one) and each is counted by a correlated, capped
// subquery, so the cost stays MaxCount rows an hour however busy the day,
// where a GROUP BY would read every message of it. $2 and $5 are cast
// because PostgreSQL would type them from "hours.start + 3600000" as
// 32-bit integers.
const hourCountsSQL = `WITH RECURSIVE hours (start) AS (
		SELECT CAST($5 AS BIGINT)
		UNION ALL
		SELECT hours.start + 3600000 FROM hours WHERE hours.start < CAST($2 AS BIGINT) + 82800000
	)
	SELECT hours.start, (SELECT COUNT(*) FROM (SELECT 1 FROM events
		WHERE room_id = $1 AND origin_ts >= hours.start AND origin_ts >= $3 AND origin_ts < hours.start + 3600000
		  AND ` + shownMessageCond + `
		LIMIT $4) capped) + CASE WHEN EXISTS (SELECT 1 FROM events` + pollsIndexed + `
		WHERE room_id = $1 AND origin_ts >= CAST($5 AS BIGINT) AND origin_ts >= $3 AND origin_ts < CAST($2 AS BIGINT) + 86400000
		  AND ` + shownPollCond + `) THEN (SELECT COUNT(*) FROM (SELECT 1 FROM events` + pollsIndexed + `
		WHERE room_id = $1 AND origin_ts >= hours.start AND origin_ts >= $3 AND origin_ts < hours.start + 3600000
		  AND ` + shownPollCond + `
		LIMIT $4) polls) ELSE 0 END
	FROM hours`

// HourCounts is DayCounts by the hour of one day: keyed by the start of
// each hour (ms) of [from, from+24h) with shown messages or polls, up to
// MaxCount.
// The hours are from's, so a caller's day in another time zone is counted
// by its own hours.
func (s *Store) HourCounts(ctx context.Context, roomID id.RoomID, from int64) (map[int64]int, error) {
	return s.HourCountsFrom(ctx, roomID, from, from)
}

// HourCountsFrom is HourCounts for the hours of the day from first on
// (the start of one of its hours): a caller that read the day's events
// up to first counts those hours itself (Event.Counted says which
// events count), and the query reads only the rest of the day.
func (s *Store) HourCountsFrom(ctx context.Context, roomID id.RoomID, from, first int64) (map[int64]int, error) {
	if first < from || first > from+23*3600000 || (first-from)%3600000 != 0 {
		return nil, fmt.Errorf("hour counts of %s: %d is not the start of an hour of the day from %d", roomID, first, from)
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	cut, err := s.expiryCut(ctx, roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, hourCountsSQL, string(roomID), from, cut, MaxCount, first)
	if err != nil {
		return nil, fmt.Errorf("hour counts of %s: %w", roomID, err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var h int64
		var n int
		if err := rows.Scan(&h, &n); err != nil {
			return nil, fmt.Errorf("hour counts of %s: %w", roomID, err)
		}
		if n > 0 {
			out[h] = min(n, MaxCount) // messages and polls, each capped
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hour counts of %s: %w", roomID, err)
	}
	return out, nil
}

func (s *Store) countCapped(ctx context.Context, query string, roomID id.RoomID, from, to int64) (int, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var n int
	if err := s.db.QueryRowContext(ctx, s.dbForm(query), string(roomID), from, to, MaxCount).Scan(&n); err != nil {
		return 0, fmt.Errorf("message count of %s: %w", roomID, err)
	}
	return n, nil
}

// latestMessagesSQL reads a room's newest shown messages backwards along
// events_room_ts, from the expiry cutoff ($2) on; latestPollsSQL its
// newest polls along events_polls.
const (
	latestMessagesSQL = `SELECT ` + eventColumns + ` FROM events
	WHERE room_id = $1 AND origin_ts >= $2 AND ` + shownMessageCond + ` AND ` + sentInTimeSQL + `
	ORDER BY origin_ts DESC, nid DESC LIMIT $3`
	latestPollsSQL = `SELECT ` + eventColumns + ` FROM events` + pollsIndexed + `
	WHERE room_id = $1 AND origin_ts >= $2 AND ` + shownPollCond + ` AND ` + sentInTimeSQL + `
	ORDER BY origin_ts DESC, nid DESC LIMIT $3`
)

// LatestMessages returns a room's newest messages and polls shown in full
// (public, not an edit, not redacted, not expired, the sender not opted
// out), newest first, at most limit: what a feed of the room lists, so
// that a message deleted, expired or withdrawn leaves it at once. One
// stamped ahead of its arrival (history read back keeps its claim:
// sentInTimeSQL) is not among them: it was sent before it came, and
// one stamped in 2100 topped the feed for good.
func (s *Store) LatestMessages(ctx context.Context, roomID id.RoomID, limit int) ([]Event, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return nil, err
	}
	cut := s.expiredBefore(roomMax, roomID)
	evs, err := s.queryEvents(ctx, latestMessagesSQL, string(roomID), cut, limit)
	if err != nil {
		return nil, fmt.Errorf("latest messages of %s: %w", roomID, err)
	}
	polls, err := s.queryEvents(ctx, latestPollsSQL, string(roomID), cut, limit)
	if err != nil {
		return nil, fmt.Errorf("latest polls of %s: %w", roomID, err)
	}
	if len(polls) > 0 {
		evs = append(evs, polls...)
		slices.SortFunc(evs, func(a, b Event) int {
			return cmp.Or(cmp.Compare(b.OriginTS, a.OriginTS), cmp.Compare(b.NID, a.NID))
		})
		evs = evs[:min(len(evs), limit)]
	}
	return s.screen(ctx, evs, false)
}
