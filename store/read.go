package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

const (
	eventColumns = `nid, event_id, room_id, type, state_key, sender, sender_name, origin_ts, public,
		rel_type, rel_target, rel_key, reply_to, raw, redacted, received_at`
	// publicRoomEventColumns are eventColumns for a query of one room's
	// public events (the day pages'): room_id and public are known, and
	// received_at is shown by no page, and modernc's cost grows with
	// every column of every row (scanRow): so the state key and the
	// relation columns, which nearly every message leaves empty, come
	// as one (relPackedSQL).
	publicRoomEventColumns = `nid, event_id, type, sender, sender_name, origin_ts, ` + relPackedSQL + `, raw, redacted`
	// relPackedSQL is state_key, rel_type, rel_target, rel_key and
	// reply_to in one column (unpackRel): NULL when the key is NULL and
	// the others empty, else their lengths in bytes (the key's -1 for
	// NULL), then ':' and the values one after the other. Every column
	// of a row cost modernc some 130-280 ns (a day of 1,000 events of
	// the 1M replay read with 2 columns and with 13): packing these five
	// took 6% off reading a day.
	relPackedSQL = `CASE WHEN state_key IS NULL AND rel_type = '' AND rel_target = '' AND rel_key = '' AND reply_to = '' THEN NULL
		ELSE COALESCE(octet_length(state_key), -1) || ',' || octet_length(rel_type) || ',' || octet_length(rel_target) || ',' ||
			octet_length(rel_key) || ',' || octet_length(reply_to) || ':' || COALESCE(state_key, '') || rel_type || rel_target || rel_key || reply_to END`
	eventByIDSQL = `SELECT ` + eventColumns + ` FROM events WHERE idh(event_id) = idh($1) AND event_id = $1`
	// Day pages list public timeline events and state changes; edits,
	// reactions and redaction events are shown through their targets.
	dayEventsSQL = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3 AND public
		  AND ` + dayListedSQL + `
		ORDER BY origin_ts, nid LIMIT $4`
	// The time of the shown message before $2 (at or after it), on
	// events_shown: a day of messages that are all deleted, or all of a
	// sender who opted out, has none, and is not in the calendar either
	// (RoomDays).
	prevMessageSQL = `SELECT origin_ts FROM events` + shownIndexed + `
		WHERE room_id = $1 AND origin_ts < $2 AND ` + shownMessageCond + `
		ORDER BY origin_ts DESC LIMIT 1`
	nextMessageSQL = `SELECT origin_ts FROM events` + shownIndexed + `
		WHERE room_id = $1 AND origin_ts >= $2 AND ` + shownMessageCond + `
		ORDER BY origin_ts LIMIT 1`
	// prevShownSQL and nextShownSQL are the nearer of the shown message
	// and the shown poll before $2 (at or after it), 0 if there is
	// neither: one round trip, each a seek on its index.
	prevShownSQL = `SELECT COALESCE(MAX(t), 0) FROM (SELECT (` + prevMessageSQL + `) AS t
		UNION ALL SELECT (SELECT origin_ts FROM events` + pollsIndexed + ` WHERE room_id = $1 AND origin_ts < $2 AND ` + shownPollCond + `
			ORDER BY origin_ts DESC LIMIT 1) AS t) adjacent`
	nextShownSQL = `SELECT COALESCE(MIN(t), 0) FROM (SELECT (` + nextMessageSQL + `) AS t
		UNION ALL SELECT (SELECT origin_ts FROM events` + pollsIndexed + ` WHERE room_id = $1 AND origin_ts >= $2 AND ` + shownPollCond + `
			ORDER BY origin_ts LIMIT 1) AS t) adjacent`
	stateEventsSQL = `SELECT ` + eventColumns + ` FROM events
		WHERE room_id = $1 AND state_key IS NOT NULL ORDER BY origin_ts, nid`
	redactionsOfSQL = `SELECT redaction_id, target_id, room_id, sender, reason, origin_ts, received_at, applied_at, rejected
		FROM redactions WHERE target_id IN (%s) AND applied_at IS NOT NULL ORDER BY applied_at, redaction_id`
	changesSQL = `SELECT pos, kind, room_id, event_id, at, user_id FROM changes WHERE pos > $1 ORDER BY pos LIMIT $2`
	// changesFromSQL is changesSQL from the position itself on.
	changesFromSQL = `SELECT pos, kind, room_id, event_id, at, user_id FROM changes WHERE pos >= $1 ORDER BY pos LIMIT $2`
	// lastChangeWithSQL is the feed's last change and the changes at $1
	// and $2, read at once.
	lastChangeWithSQL = `SELECT pos, kind, room_id, event_id, at, user_id FROM changes
		WHERE pos IN ($1, $2, (SELECT MAX(pos) FROM changes)) ORDER BY pos`
	countSQL = `SELECT COUNT(*) FROM events`
)

// scanEvent reads one row of eventColumns.
func scanEvent(sc interface{ Scan(...any) error }) (Event, error) {
	var e Event
	if err := newScanRow("").scan(sc, &e); err != nil {
		return Event{}, err
	}
	return e, nil
}

// scanRow holds what the rows of events are scanned into before each
// becomes an Event. One serves all the rows of a query (queryEventsSized):
// a row scanned into anything the row's Event does not hold, or into
// locals, cost it an allocation (the variables the scan's pointers name,
// and the slice of them), some 2% of the CPU of a day page's first
// request in a profile.
type scanRow struct {
	room id.RoomID // the query's room (publicRoomEventColumns), or ""
	// dest names the fields below in the order of the query's columns.
	dest []any

	nid, originTS, receivedAt             int64
	evID, roomID, typ, sender, senderName string
	relType, relTarget, relKey, replyTo   string
	public, redacted                      bool
	// raw is scanned as bytes: the JSON is kept as bytes, and a string
	// would be copied again.
	raw      []byte
	stateKey sql.NullString
	packed   sql.NullString // relPackedSQL
}

// newScanRow is a scanRow for the rows of publicRoomEventColumns of room,
// or of eventColumns when room is "".
func newScanRow(room id.RoomID) *scanRow {
	r := &scanRow{room: room}
	if room != "" {
		// The query knows these and leaves them out (receivedAt too,
		// which stays 0).
		r.roomID, r.public = string(room), true
		r.dest = []any{&r.nid, &r.evID, &r.typ, &r.sender, &r.senderName, &r.originTS, &r.packed, &r.raw, &r.redacted}
	} else {
		r.dest = []any{&r.nid, &r.evID, &r.roomID, &r.typ, &r.stateKey, &r.sender, &r.senderName, &r.originTS, &r.public,
			&r.relType, &r.relTarget, &r.relKey, &r.replyTo, &r.raw, &r.redacted, &r.receivedAt}
	}
	return r
}

// unpackRel reads a value of relPackedSQL into r's state key and relation
// columns (type, target, key, reply). Its lengths must add up to what
// follows them: a value that does not is an error, not a guess.
func unpackRel(v string, r *scanRow) error {
	malformed := func() error { return fmt.Errorf("state key and relation of an event: malformed %.40q", v) }
	var n [5]int
	i := 0
	for k := range n {
		sep := byte(',')
		if k == len(n)-1 {
			sep = ':'
		}
		switch {
		case k == 0 && strings.HasPrefix(v[i:], "-1"):
			n[k], i = -1, i+2
		case i < len(v) && v[i] == '0':
			i++ // no other number begins with 0
		default:
			start := i
			for i < len(v) && '0' <= v[i] && v[i] <= '9' {
				if n[k] = n[k]*10 + int(v[i]-'0'); n[k] > len(v) {
					return malformed()
				}
				i++
			}
			if i == start {
				return malformed()
			}
		}
		if i >= len(v) || v[i] != sep {
			return malformed()
		}
		i++
	}
	rest := v[i:]
	if max(n[0], 0)+n[1]+n[2]+n[3]+n[4] != len(rest) {
		return fmt.Errorf("state key and relation of an event: lengths %v for %d bytes", n, len(rest))
	}
	take := func(l int) string {
		s := rest[:max(l, 0)]
		rest = rest[len(s):]
		return s
	}
	r.stateKey = sql.NullString{String: take(n[0]), Valid: n[0] >= 0}
	r.relType, r.relTarget, r.relKey, r.replyTo = take(n[1]), take(n[2]), take(n[3]), take(n[4])
	return nil
}

// scan reads the row sc is at into *e, which the caller may have placed
// where it is kept (a day's slice): an Event is some 300 bytes, and one
// built apart and then copied cost every row of a day an allocation.
func (r *scanRow) scan(sc interface{ Scan(...any) error }, e *Event) error {
	r.reset()
	if err := sc.Scan(r.dest...); err != nil {
		return err
	}
	return r.fill(e)
}

// reset readies r for a row of publicRoomEventColumns. The state key and
// relation are unpacked from a column that is NULL for most rows: what a
// row before this one unpacked must not stay.
func (r *scanRow) reset() {
	if r.room != "" {
		r.stateKey, r.relType, r.relTarget, r.relKey, r.replyTo = sql.NullString{}, "", "", "", ""
	}
}

// fill makes *e the event of the row r holds.
func (r *scanRow) fill(e *Event) error {
	if r.room != "" && r.packed.Valid {
		if err := unpackRel(r.packed.String, r); err != nil {
			return err
		}
	}
	e.NID, e.ID, e.RoomID, e.Type, e.Sender = r.nid, id.EventID(r.evID), id.RoomID(r.roomID), r.typ, id.UserID(r.sender)
	e.SenderName, e.OriginTS, e.Public, e.Redacted = r.senderName, r.originTS, r.public, r.redacted
	e.Rel = event.Relation{Type: r.relType, EventID: id.EventID(r.relTarget), Key: r.relKey, ReplyTo: id.EventID(r.replyTo)}
	if r.stateKey.Valid {
		sk := r.stateKey.String
		e.StateKey = &sk
	}
	// The scan gave raw bytes of their own (database/sql copies what the
	// driver returns into a *[]byte), so e may keep them.
	e.Raw, r.raw = r.raw, nil
	e.Content = event.ContentOf(e.Raw)
	if r.room == "" {
		e.ReceivedAt = time.UnixMilli(r.receivedAt).UTC()
	}
	if e.Type == event.TypeRedaction {
		e.Redacts = event.RedactsTarget(&e.Event)
	}
	return nil
}

func (s *Store) queryEvents(ctx context.Context, query string, args ...any) ([]Event, error) {
	return s.queryEventsSized(ctx, 0, "", query, args...)
}

// queryEventsSized is queryEvents for a query expected to return about
// size rows (an Event is some 300 bytes, and growing the slice from empty
// to a day page's 1,000 events copied them a dozen times), of
// publicRoomEventColumns when room is not "".
func (s *Store) queryEventsSized(ctx context.Context, size int, room id.RoomID, query string, args ...any) ([]Event, error) {
	evs, _, err := s.queryEventsBounded(ctx, size, 0, room, query, args...)
	return evs, err
}

// queryEventsBounded is queryEventsSized reading no further once the
// events read hold maxBytes of JSON (maxBytes > 0): the event that
// reaches it is the last read, and cut reports that the query has rows
// after it (a row stepped to, not read). A day of events as large as a
// homeserver lets through is then read a few megabytes at a time, not
// its thousands at once.
func (s *Store) queryEventsBounded(ctx context.Context, size, maxBytes int, room id.RoomID, query string, args ...any) (evs []Event, cut bool, err error) {
	if !s.noDirect {
		read := s.directEvents
		if s.dialect != sqlite {
			read = s.pgDirectEvents
		}
		if evs, cut, direct, err := read(ctx, size, maxBytes, room, query, args); direct {
			s.directReads.Add(1)
			return evs, cut, err
		}
	}
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := make([]Event, 0, size)
	r := newScanRow(room)
	var b readBytes
	for rows.Next() {
		if b.full(maxBytes) {
			return out, true, nil
		}
		out = append(out, Event{})
		if err := r.scan(rows, &out[len(out)-1]); err != nil {
			return nil, false, err
		}
		b.add(&out[len(out)-1])
	}
	return out, false, rows.Err()
}

// readBytes counts the JSON of the events a bounded read has read
// (queryEventsBounded).
type readBytes int

func (b *readBytes) add(e *Event) { *b += readBytes(len(e.Raw)) }

// full says whether a read bounded to maxBytes (none if 0 or less) has
// read enough.
func (b readBytes) full(maxBytes int) bool { return maxBytes > 0 && int(b) >= maxBytes }

// EventByID returns a stored event, public or not; ErrNotFound if unknown.
func (s *Store) EventByID(ctx context.Context, eventID id.EventID) (Event, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	e, err := scanEvent(s.queryRow(ctx, eventByIDSQL, string(eventID)))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, fmt.Errorf("event %s: %w", eventID, ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", eventID, err)
	}
	evs, err := s.screen(ctx, []Event{e}, true)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", eventID, err)
	}
	return evs[0], nil
}

// Tombstone says why an event the archive once held was deleted on
// purpose: "expired", "purged" (its room) or "erased" (its sender);
// ErrNotFound if it was not (a withheld event's was never held).
func (s *Store) Tombstone(ctx context.Context, eventID id.EventID) (string, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var reason string
	err := s.queryRow(ctx, `SELECT reason FROM tombstones WHERE event_id = $1 AND reason <> $2`, string(eventID), TombstoneNotPublic).Scan(&reason)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("tombstone of %s: %w", eventID, ErrNotFound)
	}
	return reason, err
}

// MaxDayEvents bounds one JSON day and DayEvents; pages of a day are read
// with DayPage, which leaves nothing out.
const MaxDayEvents = 20000

// DayEvents returns the public events of a room shown on a day page for the
// half-open interval [from, to) of milliseconds, in timeline order, at most
// MaxDayEvents of them (for tests and tools; the web reads days with
// DayPage).
func (s *Store) DayEvents(ctx context.Context, roomID id.RoomID, from, to int64) ([]Event, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	evs, err := s.queryEvents(ctx, dayEventsSQL, string(roomID), from, to, MaxDayEvents)
	if err != nil {
		return nil, fmt.Errorf("day events of %s: %w", roomID, err)
	}
	return s.screen(ctx, evs, false)
}

// AdjacentMessages returns the timestamps of the nearest public message
// before from and at or after to (0 where there is none): the days a day
// page links to as previous and next.
func (s *Store) AdjacentMessages(ctx context.Context, roomID id.RoomID, from, to int64) (prev, next int64, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return 0, 0, err
	}
	// Expired messages are not there to link to.
	cut := s.expiredBefore(roomMax, roomID)
	if err = s.queryRow(ctx, prevShownSQL, string(roomID), from).Scan(&prev); err != nil {
		return 0, 0, fmt.Errorf("previous message in %s: %w", roomID, err)
	}
	if prev < cut {
		prev = 0
	}
	if err = s.queryRow(ctx, nextShownSQL, string(roomID), max(to, cut)).Scan(&next); err != nil {
		return 0, 0, fmt.Errorf("next message in %s: %w", roomID, err)
	}
	return prev, next, nil
}

// shownMessageCond is what makes an event a message a reader sees in full:
// public, a timeline message (not an edit), not redacted, its sender not
// opted out. Expiry, which depends on the room's policy, is a bound on
// origin_ts added by each query.
//
// The opt-out check first asks whether anyone has opted out, a subquery
// of no row's that both databases answer once a query (SQLite's SCALAR
// SUBQUERY, PostgreSQL's InitPlan), and probes optouts for a row's sender
// only if someone has: most archives have no opt-out, and the probe was
// most of what counting cost. A day's hour counts of 699 messages in
// 15 hours, the 1M replay on PostgreSQL (generic plan, cached): 1.7 ms
// with the probe, 0.22 without it, 0.3-0.56 with 50 users opted out
// (PostgreSQL then hashes them once), against 0.74-0.98 as an anti-join;
// the same count in the sqlite3 shell, 500 runs: 219-401 against 164-268
// µs. (A day page reads its counts beside its timeline: its first
// request's time did not change measurably on either database.)
const shownMessageCond = shownIndexCond + notOptedOutCond

// notOptedOutCond is shownMessageCond's opt-out check.
const notOptedOutCond = `
	AND (NOT EXISTS (SELECT 1 FROM optouts) OR NOT EXISTS (SELECT 1 FROM optouts o WHERE o.user_id = events.sender))`

// shownPollCond is shownMessageCond for the start of a poll, which a day
// page shows as a poll, not a message (Event.Displayable): a day with only
// polls is a day with something to read all the same (RoomDays).
const shownPollCond = pollIndexCond + notOptedOutCond

// pollIndexCond is the condition of the partial index events_polls
// (migration 029), to the letter, as shownIndexCond: a poll's start, not
// an edit of one (which a day page shows through its original, if at
// all) nor a state event of its type (a page shows no poll of one). A
// start whose content is not a poll is counted: its page says so
// (web's pollView.Invalid).
const pollIndexCond = `public AND NOT redacted AND ` + pollStartSQL

// pollsIndexed follows "FROM events" in what reads a room's polls, so
// that SQLite reads them on events_polls (a comment to PostgreSQL,
// sqliteOnlyOpen): to SQLite, without statistics, the room's every event
// on events_room_ts looked no worse.
const pollsIndexed = " " + sqliteOnlyOpen + "INDEXED BY events_polls*/"

// shownIndexed is pollsIndexed for events_shown, where SQLite would
// otherwise seek the day before or after a day on events_room_ts and step
// over every event that is not a shown message there.
const shownIndexed = " " + sqliteOnlyOpen + "INDEXED BY events_shown*/"

// shownIndexCond is the condition of the partial index events_shown
// (migration 017), to the letter: SQLite uses a partial index only for a
// query whose WHERE has each of its terms as written
// (TestShownMessagesReadTheirIndex).
const shownIndexCond = `public AND NOT redacted AND ` + timelineMessageSQL

// nextDaySQL is the start (ms) of the UTC day after the one holding
// days.first_ts (origin_ts is never negative: event.Parse refuses that).
const nextDaySQL = `(days.first_ts - days.first_ts % 86400000 + 86400000)`

// roomDaysSQL walks a room's days with shown messages by seeking from one
// day to the next (a loose index scan on events_shown), so that its cost
// grows with the number of days, not of messages; for each day it then
// seeks back from the day's end to its latest shown message. pollDaysSQL
// is the same walk of the room's polls (events_polls).
var (
	roomDaysSQL = daysWalk("", shownMessageCond)
	pollDaysSQL = daysWalk(pollsIndexed, shownPollCond)
)

// daysWalk is the walk of the days of the events of cond, read from
// events with hint (an INDEXED BY clause, or "").
func daysWalk(hint, cond string) string {
	return `WITH RECURSIVE days (first_ts, n) AS (
		SELECT (SELECT origin_ts FROM events` + hint + ` WHERE room_id = $1 AND origin_ts >= $2 AND origin_ts < $3
			AND ` + cond + ` ORDER BY origin_ts LIMIT 1), 1
		UNION ALL
		SELECT (SELECT origin_ts FROM events` + hint + ` WHERE room_id = $1 AND origin_ts >= ` + nextDaySQL + ` AND origin_ts < $3
			AND ` + cond + ` ORDER BY origin_ts LIMIT 1), days.n + 1
		FROM days WHERE days.first_ts IS NOT NULL AND days.n < $4
	)
	SELECT days.first_ts, (SELECT origin_ts FROM events` + hint + ` WHERE room_id = $1 AND origin_ts >= days.first_ts
		AND origin_ts < ` + nextDaySQL + ` AND origin_ts < $3
		AND ` + cond + ` ORDER BY origin_ts DESC LIMIT 1)
	FROM days WHERE days.first_ts IS NOT NULL ORDER BY days.first_ts`
}

// Day is a UTC day on which a room has messages to show.
type Day struct {
	Start  time.Time // midnight UTC
	LastTS int64     // the day's latest shown message, ms
}

// RoomDays lists the UTC days of [from, to) (ms) on which a room has a
// message or a poll shown in full (public, not an edit, not redacted, not
// expired, its sender not opted out), oldest first, at most limit of them,
// each with its latest such message or poll. A day holding only deleted
// or withdrawn messages is not listed.
func (s *Store) RoomDays(ctx context.Context, roomID id.RoomID, from, to int64, limit int) ([]Day, error) {
	msgs, polls, err := s.roomDays(ctx, roomID, from, to, limit)
	if err != nil {
		return nil, err
	}
	return mergeDays(msgs, polls, limit), nil
}

// roomDays is RoomDays as its two walks found them: the days with
// messages, and those with polls, at most limit of each.
func (s *Store) roomDays(ctx context.Context, roomID id.RoomID, from, to int64, limit int) (msgs, polls []Day, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if limit <= 0 {
		return nil, nil, nil
	}
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, expires := s.maxLifetime(roomMax, roomID); expires {
		from = max(from, s.expiredBefore(roomMax, roomID))
	}
	if from >= to {
		return nil, nil, nil
	}
	if msgs, err = s.walkDays(ctx, roomDaysSQL, roomID, from, to, limit); err != nil {
		return nil, nil, err
	}
	if polls, err = s.walkDays(ctx, pollDaysSQL, roomID, from, to, limit); err != nil {
		return nil, nil, err
	}
	return msgs, polls, nil
}

// walkDays runs query, a daysWalk.
func (s *Store) walkDays(ctx context.Context, query string, roomID id.RoomID, from, to int64, limit int) ([]Day, error) {
	rows, err := s.db.QueryContext(ctx, s.dbForm(query), string(roomID), from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("days of %s: %w", roomID, err)
	}
	defer rows.Close()
	var out []Day
	for rows.Next() {
		var first int64
		var last sql.NullInt64 // never NULL: the day's first message qualifies
		if err := rows.Scan(&first, &last); err != nil {
			return nil, fmt.Errorf("days of %s: %w", roomID, err)
		}
		out = append(out, Day{Start: time.UnixMilli(first).UTC().Truncate(24 * time.Hour), LastTS: max(first, last.Int64)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("days of %s: %w", roomID, err)
	}
	return out, nil
}

// mergeDays merges two lists of days, each oldest first, into one of at
// most limit: a day in both once, with the later of its two latest times.
// Each list holds the first days of its kind, up to limit, so the first
// limit days of either kind are among them.
func mergeDays(a, b []Day, limit int) []Day {
	if len(b) == 0 {
		return a
	}
	out := make([]Day, 0, min(len(a)+len(b), limit))
	for len(out) < limit && (len(a) > 0 || len(b) > 0) {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0].Start.Before(b[0].Start):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0].Start.Before(a[0].Start):
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, Day{Start: a[0].Start, LastTS: max(a[0].LastTS, b[0].LastTS)}), a[1:], b[1:]
		}
	}
	return out
}

// maxIDsPerQuery keeps IN lists well inside both databases' limits.
const maxIDsPerQuery = 500

// scanStrings reads a one-column result of strings and closes rows.
func scanStrings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// sqliteIDRows is, on SQLite, a subquery whose rows are the IDs of one
// parameter, a JSON array (read by json_each), for reads (idList) and a
// write batch's lists (writer.among) alike: a list of numbered
// parameters, one per ID, made a query text for every padded length and
// bound them one by one, and modernc looks each parameter's name up among
// all of the statement's (sqlite3VListNumToName, a linear walk), so
// binding a list cost the square of its length: for a day page's 128
// padded rows of five values each (PreviousMembership) that lookup was
// two thirds of the query. It is $1, not ?, so that a query may read its
// list twice (EventTimes) with one parameter. PostgreSQL keeps its list:
// an IN list is an index condition there (= ANY), while a subquery of
// unnest() was planned as a semi-join that, with statistics from before
// the room's relations, walked all of events_rel for each query.
const sqliteIDRows = "SELECT value FROM json_each($1)"

// idList is the list for a query's IN (%s) of ids, and its arguments: on
// PostgreSQL numbered parameters, padded (inListPadded); on SQLite
// sqliteIDRows, the IDs as one JSON array. The query must have no other
// parameter. ids must not be empty.
func idList[T ~string](d dialect, ids []T) (string, []any, error) {
	if d == postgres {
		ph, args := inListPadded(ids)
		return ph, args, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return "", nil, fmt.Errorf("IDs as JSON: %w", err)
	}
	return sqliteIDRows, []any{string(list)}, nil
}

// inQuery runs query (which has %[1]s for a list of IDs: numbered
// parameters on PostgreSQL, sqliteIDRows on SQLite; and may have %[2]s
// for them as idh(event_id) IN takes them, idhList) over ids in chunks
// and concatenates the results; with rowPerID the query returns
// about a row for each ID (an event's own row), and its list is made that
// long at once. The read timeout bounds each chunk's
// query, as it bounds every read query: the indexer's catch-up asks for
// thousands of IDs at once, and under load their chunks together ran past
// one timeout that each was well within.
func (s *Store) inQuery(ctx context.Context, query string, ids []id.EventID, rowPerID bool) ([]Event, error) {
	var out []Event
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerQuery)
		list, args, err := idList(s.dialect, ids[:n])
		if err != nil {
			return nil, err
		}
		text := fmt.Sprintf(query, list, idhList(s.dialect, list))
		qctx, cancel := s.readCtx(ctx)
		size := 0
		if rowPerID {
			size = n
		}
		evs, err := s.queryEventsSized(qctx, size, "", text, args...)
		cancel()
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = evs // one list, not copied
		} else {
			out = append(out, evs...)
		}
		ids = ids[n:]
	}
	return out, nil
}

// screenedIn is inQuery's events, screened as every read's are (screen);
// what names the read in an error.
func (s *Store) screenedIn(ctx context.Context, what, query string, ids []id.EventID, rowPerID bool) ([]Event, error) {
	evs, err := s.inQuery(ctx, query, ids, rowPerID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	return s.screen(ctx, evs, false)
}

// MaxRelated bounds the relations Related loads per target and relation
// type (reactions, thread replies, edits, references): without it, anyone
// in a room could make every view of one message load a hundred thousand
// reactions. When it is reached the latest to arrive are kept (by nid, not
// by origin_server_ts, which the sender chooses); a caller that got
// MaxRelated of a kind knows there may be more (RelatedCapped).
const MaxRelated = 500

// MaxRelatedBytes bounds them by their JSON as well: the latest to arrive
// are kept up to the one whose JSON reaches it. 500 thread replies (or
// reactions, with a field of padding) as large as a homeserver lets
// through are 47 MB, read for every view of the message; 500 ordinary
// ones a few hundred kilobytes. (octet_length reads a row's length from
// its header, not its JSON.)
const MaxRelatedBytes = 2 << 20

// RelatedCapped says whether rel (relations as Related and RelatedIn
// return them) may hold fewer of target's relations of type relType than
// there are: MaxRelated of them, or MaxRelatedBytes of their JSON.
func RelatedCapped(rel []Event, target id.EventID, relType string) bool {
	n, size := 0, 0
	for i := range rel {
		if rel[i].Rel.EventID == target && rel[i].Rel.Type == relType {
			n, size = n+1, size+len(rel[i].Raw)
		}
	}
	return n >= MaxRelated || size >= MaxRelatedBytes
}

// relatedWindow ranks a target's relations of a type, the latest to
// arrive first (rel_rank), and sums the JSON of those before each
// (rel_before, bytesBefore), for relatedKept.
func relatedWindow(prefix string) string {
	return `ROW_NUMBER() OVER rel_w AS rel_rank,
		` + bytesBefore(`octet_length(`+prefix+`raw)`, `rel_w`)
}

// relatedWindowDef is relatedWindow's window.
func relatedWindowDef(prefix string) string {
	return ` WINDOW rel_w AS (PARTITION BY ` + prefix + `rel_target, ` + prefix + `rel_type ORDER BY ` + prefix + `nid DESC)`
}

// bytesBefore is rel_before: the sum of length over the rows of window
// (a window, or its name, whose rows are a target's relations of a type,
// the latest to arrive first) that arrived after each, which
// relatedBytesKept bounds. The length is taken inside the window
// function, or is a column of its own: as a column of the query (a
// row's sum less its own length), SQLite carried each row's JSON through
// the window's sort to compute it after, some 20 MB for each read of a
// thread of 500 replies of 94,000 bytes.
func bytesBefore(length, window string) string {
	return `COALESCE(SUM(` + length + `) OVER (` + window + ` ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS rel_before`
}

// relatedBytesKept keeps a target's relations of a type up to the one
// whose JSON, with theirs that arrived after it, reaches
// MaxRelatedBytes (bytesBefore's rel_before).
var relatedBytesKept = `rel_before < ` + strconv.Itoa(MaxRelatedBytes)

// relatedKept is the condition on relatedWindow's columns that keeps
// MaxRelated of a target's relations of a type, and no more than the one
// whose JSON reaches MaxRelatedBytes.
var relatedKept = `rel_rank <= ` + strconv.Itoa(MaxRelated) + ` AND ` + relatedBytesKept

// relationWalk is the query of the relations of relType of the event t
// (a table of the enclosing query) that Related may keep: from t's own
// room (a relation across rooms is invalid, and would let another,
// perhaps hidden, room's text into this one's pages), public, not
// redacted, an edit only from t's sender (no other edit is valid, and
// counting them would let anyone push the real edits past the cap), the
// latest MaxRelated to arrive. They are walked from the latest to arrive
// on events_rel (edits on events_edits, by the target's sender), in nid
// order (which SQLite's indexes hold as every index's rowid, and
// PostgreSQL's since migrations 023 and 027), and no further:
// a window ranking a message's every relation, each through a lookup of
// its target, cost SQLite's Related 92 ms for each read of a thread of
// 20,000 replies (now 3.7, BenchmarkRelated), PostgreSQL's 92-96 (now
// 2.4), and LatestEdits and ThreadRoots as much for every list and
// every batch of the indexer that held one (BenchmarkLatestEdits,
// BenchmarkThreadRoots). cols are the columns of r it selects.
func relationWalk(relType, cols string) string {
	kind := ""
	if c := relationKindCond[relType]; c != "" {
		kind = ` AND ` + c
	}
	return `SELECT ` + cols + ` FROM events r
		WHERE r.rel_target = t.event_id AND r.rel_target <> '' AND r.rel_type = '` + relType + `'
		  AND r.public AND NOT r.redacted AND r.room_id = t.room_id` + kind + `
		ORDER BY r.nid DESC LIMIT ` + strconv.Itoa(MaxRelated)
}

// relationKindCond is what an event of a relation's kind must be besides
// (r, relating to t): an edit only from t's sender, a reaction an
// m.reaction (event.Resolve counts no other), a thread reply a message
// or a sticker (what a thread page lists) and a reference a poll's
// response or end (what the archive shows of references, PollVotes).
// Counted, any other event saying it was one took a place of the
// MaxRelated kept: 500 stickers "reacting" to a message, or reactions
// "replying in its thread", left it showing none of its real reactions
// or replies, and 500 messages "referring" to a poll left it open with
// no vote.
var relationKindCond = map[string]string{
	event.RelReplace:    `r.sender = t.sender`,
	event.RelAnnotation: `r.type = '` + event.TypeReaction + `'`,
	event.RelThread:     `r.type IN ('` + event.TypeMessage + `', '` + event.TypeSticker + `')`,
	event.RelReference: `r.type IN ('` + event.TypePollResponse + `', '` + event.TypePollResponseUnstable + `', '` +
		event.TypePollEnd + `', '` + event.TypePollEndUnstable + `')`,
}

// relationKindsSQL is relationKindCond of every kind Related reads, for
// a query of the relations of any of them (r), which it names.
func relationKindsSQL() string {
	parts := []string{`r.rel_type IN ('` + strings.Join(relationTypes, `', '`) + `')`}
	for _, typ := range relationTypes {
		if c := relationKindCond[typ]; c != "" {
			parts = append(parts, `(r.rel_type <> '`+typ+`' OR `+c+`)`)
		}
	}
	return strings.Join(parts, ` AND `)
}

// relationWalks is relationWalk of each relation type, each between
// open and close, joined by UNION ALL.
func relationWalks(open, close, cols string) string {
	var walks []string
	for _, typ := range relationTypes {
		walks = append(walks, open+relationWalk(typ, cols)+close)
	}
	return strings.Join(walks, ` UNION ALL `)
}

// relationTypes are the relations Related reads: what a message shows
// (event.Resolve). The store keeps references too (event.ParseRelation
// keeps no other type), a poll's responses and ends, which PollVotes
// reads voter by voter: walked here as well, the latest 500 could be one
// member's flood of them, read with every poll's day page for nothing.
var relationTypes = []string{event.RelReplace, event.RelThread, event.RelAnnotation}

// relatedBefore is bytesBefore of e, the relations relationWalk keeps.
var relatedBefore = bytesBefore(`octet_length(e.raw)`, `PARTITION BY e.rel_target, e.rel_type ORDER BY e.nid DESC`)

// relatedSQL is Related's query on PostgreSQL: each listed target that
// some event names (related, migration 014), looked up by its ID, and
// its relations walked kind by kind (relationWalks, on events_rel,
// which holds nid since migration 023), the bytes summed over what the
// walks keep. Ranked in one window, each relation through a lookup of
// its target, a thread of 20,000 replies took 177-186 ms for each read
// (BenchmarkRelated), now 2.6; a busy day's (BenchmarkRelationsBusyDay)
// 200 and 1,000 messages took as long both ways, 2.6-2.8 and 12 ms. The
// targets are looked up rather than found on events_rel, as
// relationTargetsSQL finds them for longer lists, because the lists are
// a page's and most of their relations are walked anyway; the walks
// made a page of 200 messages 2.6 → 3.5 ms until the targets without a
// relation were left out (related).
var relatedSQL = `SELECT ` + eventColumns + ` FROM (
		SELECT e.*, ` + relatedBefore + `
		FROM events t CROSS JOIN LATERAL (` + relationWalks(`(`, `)`, `r.*`) + `) e
		WHERE idh(t.event_id) IN (%[2]s) AND t.event_id IN (%[1]s) AND t.related
	) related WHERE ` + relatedBytesKept + `
	ORDER BY origin_ts, nid`

// sqliteRelatedSQL is Related's query on SQLite, whose window functions
// and sorts hold their rows in memory (temp_store): ranked and sorted
// with their JSON, a message's relations were all held at once (a thread
// of 500 replies as large as a homeserver lets through, some 47 MB for
// each read of it). They are ranked and sorted by their nid and place
// alone, and each row is then read by its nid, in that order: the
// subquery's LIMIT keeps its ORDER BY, and the CROSS JOIN its rows the
// outer loop (the plan: TestRelatedNarrowSort).
var sqliteRelatedSQL = `SELECT ` + eventColumns + ` FROM (
		SELECT rnid FROM (
			SELECT e.nid AS rnid, e.origin_ts AS rts, ` + relatedBefore + `
			FROM events t, events e
			WHERE ` + relationTargetsSQL(sqlite, "") + ` AND e.nid IN (` + relationWalks(`SELECT nid FROM (`, `)`, `r.nid`) + `)
		) WHERE ` + relatedBytesKept + `
		ORDER BY rts, rnid LIMIT -1
	) ranked CROSS JOIN events ON events.nid = ranked.rnid`

// relatedText is Related's query for the store's database.
func (s *Store) relatedText() string {
	if s.dialect == sqlite {
		return sqliteRelatedSQL
	}
	return relatedSQL
}

// Related returns the public, unredacted events that relate to any of the
// given events (edits, reactions, thread replies; a poll's references are
// PollVotes'), from the
// target's own room only (a relation across rooms is invalid, and would
// let another, perhaps hidden, room's text into this one's pages), at most
// MaxRelated of each relation type per target, in timeline order.
func (s *Store) Related(ctx context.Context, targets []id.EventID) ([]Event, error) {
	return s.screenedIn(ctx, "related events", s.relatedText(), targets, false)
}

// relatedInSQL is RelatedIn's query: relatedSQL with the targets found by
// their place in the room, from ($2, $3) to ($4, $5), rather than by a
// list of IDs: the relations themselves may lie on any day (a late edit or
// reaction), so they are found by their target, through events_rel. On
// SQLite a list of 500 bound IDs cost more than the reads it served
// (modernc looks up every parameter's name among the others). The room
// of relation and target is $1 (a relation is kept only in its target's
// room), and an edit counts only from the target's sender, as in
// relatedSQL. Only the range's events that some event names as a target
// (related, migration 014) are walked, on their own index: probing
// events_rel with each of a busy day's thousand events, most of which
// have no relation, was a day page's RelatedIn (1.2 ms of a first page
// on SQLite). SQLite is told the index, which it would not otherwise
// prefer to events_room_ts without statistics. The relations are ranked
// and put in order (RelatedInUpTo's) without their JSON, then read by
// their nid, as in sqliteRelatedSQL. The relations are not walked kind
// by kind (relationWalks), as PostgreSQL's are: a busy Matrix day's
// (1,000 messages, a quarter with reactions, a tenth edited, a
// twentieth a thread) took 6.8-6.9 ms that way against 5.6-6.2, though
// a day whose one message has 20,000 thread replies a ninth of the 73
// ms it takes this way (17 against 154 with the test suite running).
// Other senders' edits of a day's message are therefore still read here,
// to be left out, where the walks no longer read them (events_edits,
// migration 027): taken from events_edits in a query of their own (a
// UNION ALL of two joins, or each event's relations listed by a
// subquery), the busy day's took 6.8-7.3 ms against 6.0-6.2.
func relatedInSQL(order string) string {
	return `SELECT ` + publicRoomEventColumns + ` FROM (
		SELECT rnid, t_ts, t_nid, rel_prio, rel_rank FROM (
			SELECT r.nid AS rnid, ` + relatedWindow("r.") + `,
			  t.origin_ts AS t_ts, t.nid AS t_nid, ` + relPrioSQL + ` AS rel_prio
			FROM events t INDEXED BY events_related JOIN events r ON r.rel_target = t.event_id
			WHERE t.room_id = $1 AND t.related AND t.origin_ts >= $2 AND t.origin_ts <= $4
			  AND (t.origin_ts, t.nid) >= ($2, $3) AND (t.origin_ts, t.nid) <= ($4, $5)
			  AND r.rel_target <> '' AND r.room_id = $1 AND r.public AND NOT r.redacted
			  AND ` + relationKindsSQL() + relatedWindowDef("r.") + `
		) WHERE ` + relatedKept + `
		ORDER BY ` + order + ` LIMIT -1
	) ranked CROSS JOIN events ON events.nid = ranked.rnid`
}

// relPrioSQL orders a target's relations as RelatedInUpTo reads them
// (r is the relation): edits first, which change what the message says
// (an edit may be what took a secret out of it), then thread replies and
// reactions.
const relPrioSQL = `CASE r.rel_type WHEN '` + event.RelReplace + `' THEN 0 WHEN '` + event.RelThread + `' THEN 1 ELSE 2 END`

// relatedInPostgresSQL is relatedInSQL for PostgreSQL, its join order
// fixed: the day's related events first (events_related), then each one's
// relations (events_rel, probed with its ID). PostgreSQL plans the join
// with its statistics, and where they predate the room's relations (an
// IRC import analyzed, then live reactions and thread replies, which
// autovacuum analyzes only once a tenth of the table has changed) it
// expected one relation, drove the join from events_rel and walked the
// whole day once for every relation of the room: 100-330 ms for one busy
// day of the bench's replay (TestRelatedInCostsTheDay). A subquery with
// OFFSET 0 is planned as written, and a LATERAL one runs once per row of
// the day. SQLite plans without statistics (store.AfterBulkWrite does not
// analyze it) and walks the day first (TestRelatedInIsIndexProbes).
// Each one's relations are walked kind by kind, from the latest to
// arrive and no further than the 500 kept (relationWalks): in one
// window, a busy Matrix day's took 29 ms and a day whose one message
// has 20,000 thread replies 108 ms; now 7 and 14, and 3.0 since
// events_rel holds nid (BenchmarkRelatedIn, on a table of that thread
// alone; with an archive around it, as the benchmark has it now, 2.3-2.6
// ms either way).
func relatedInPostgresSQL(order string) string {
	return `SELECT ` + publicRoomEventColumns + ` FROM (
		SELECT r.*, ` + relatedWindow("r.") + `,
		  t.origin_ts AS t_ts, t.nid AS t_nid, ` + relPrioSQL + ` AS rel_prio
		FROM (SELECT event_id, room_id, sender, origin_ts, nid FROM events
			WHERE room_id = $1 AND related AND origin_ts >= $2 AND origin_ts <= $4
			  AND (origin_ts, nid) >= ($2, $3) AND (origin_ts, nid) <= ($4, $5)
			OFFSET 0) t
		CROSS JOIN LATERAL (` + relationWalks(`(`, `)`, `r.*`) + `) r` + relatedWindowDef("r.") + `
	) related WHERE ` + relatedKept + `
	ORDER BY ` + order
}

// The orders RelatedInUpTo reads in: target by target, forwards or
// backwards, each target's relations as relPrioSQL says.
const (
	relatedInForwards  = `t_ts, t_nid, rel_prio, rel_rank`
	relatedInBackwards = `t_ts DESC, t_nid DESC, rel_prio, rel_rank`
)

var (
	relatedInQueries   = [2]string{relatedInSQL(relatedInForwards), relatedInSQL(relatedInBackwards)}
	relatedInPGQueries = [2]string{relatedInPostgresSQL(relatedInForwards), relatedInPostgresSQL(relatedInBackwards)}
)

// relatedInQuery is RelatedIn's query on s's database, reading its
// targets backwards if back.
func (s *Store) relatedInQuery(back bool) string {
	i := 0
	if back {
		i = 1
	}
	if s.dialect == postgres {
		return relatedInPGQueries[i]
	}
	return relatedInQueries[i]
}

// RelatedIn is Related for every event of room from first to last
// (positions, both included; a day page's events): the same relations of
// the same events, and perhaps relations of events in the range a page
// does not list (a reaction to a reaction), which a caller looking up its
// own events' relations never asks for.
func (s *Store) RelatedIn(ctx context.Context, roomID id.RoomID, first, last Position) ([]Event, error) {
	evs, _, _, err := s.RelatedInUpTo(ctx, roomID, first, last, 0, false)
	return evs, err
}

// RelatedInUpTo is RelatedIn reading no further than maxBytes of the
// relations' JSON (none if 0 or less), as a day's reads are bounded
// (DayPage): a message's relations are up to MaxRelatedBytes of each of
// four kinds, some 8 MB, and a day page's 500 messages' 4 GB.
// They are read target by target, in the range's order, and a target's
// edits first, then thread replies and reactions, the latest
// to arrive first in each. Where the bound is reached (cut), the target
// being read is at partial: its relations may be incomplete, and the
// relations of the range's later events were not read; those of the
// events before it were. back reads the targets from the range's last
// (for the page before one, DayPageBefore): where it is cut, the
// relations of the events after partial were read, not those before.
// The events come in timeline order, as RelatedIn's.
func (s *Store) RelatedInUpTo(ctx context.Context, roomID id.RoomID, first, last Position, maxBytes int, back bool) (evs []Event, partial Position, cut bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	evs, cut, err = s.queryEventsBounded(ctx, 0, maxBytes, roomID, s.relatedInQuery(back), string(roomID), first.TS, first.NID, last.TS, last.NID)
	if err != nil {
		return nil, Position{}, false, fmt.Errorf("related events of %s: %w", roomID, err)
	}
	if cut {
		// The last event read is of the target being read when the bound
		// was reached; its place is the target's (a rare read: only a
		// cut one asks).
		// Gone since (purged), the range's first (last, backwards) is
		// taken for it: a caller keeps that event alone.
		target := evs[len(evs)-1].Rel.EventID
		err := s.queryRow(ctx, eventPositionSQL, string(target)).Scan(&partial.TS, &partial.NID)
		switch {
		case errors.Is(err, sql.ErrNoRows) && back:
			partial = last
		case errors.Is(err, sql.ErrNoRows):
			partial = first
		case err != nil:
			return nil, Position{}, false, fmt.Errorf("related events of %s: the place of %s: %w", roomID, target, err)
		}
	}
	slices.SortFunc(evs, func(a, b Event) int { return PositionOf(a).Compare(PositionOf(b)) })
	if evs, err = s.screen(ctx, evs, false); err != nil {
		return nil, Position{}, false, err
	}
	return evs, partial, cut, nil
}

// eventPositionSQL reads an event's position, shown or not.
const eventPositionSQL = `SELECT origin_ts, nid FROM events WHERE idh(event_id) = idh($1) AND event_id = $1`

// MaxDirectoryRooms bounds the rooms a directory lists (RoomsUpTo).
const MaxDirectoryRooms = 1000

// RoomsUpTo lists the rooms the directory shows, as Rooms does, the first
// limit of them (most recently active first); more reports that there are
// further rooms. It reads at most limit+1 rows.
func (s *Store) RoomsUpTo(ctx context.Context, limit int) (rooms []Room, more bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, listRoomsSQL+` LIMIT $1`, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list rooms: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n++; n > limit {
			more = true
			break
		}
		r, err := scanRoom(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list rooms: %w", err)
		}
		if r = s.withPolicy(r); r.Shown() {
			rooms = append(rooms, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list rooms: %w", err)
	}
	return rooms, more, nil
}

// eventsByIDSQL is EventsByID's query (inQuery).
const eventsByIDSQL = `SELECT ` + eventColumns + ` FROM events WHERE idh(event_id) IN (%[2]s) AND event_id IN (%[1]s)`

// EventsByID returns the stored events among ids, in no particular order.
func (s *Store) EventsByID(ctx context.Context, ids []id.EventID) ([]Event, error) {
	return s.screenedIn(ctx, "events by id", eventsByIDSQL, ids, true)
}

// StoredEvents returns the stored events among ids as they are stored,
// screened by nothing, as StateEvents reads a room's state: for a
// writer's copy of that state to be checked against what another process
// may have changed since (an operator's takedown).
func (s *Store) StoredEvents(ctx context.Context, ids []id.EventID) ([]Event, error) {
	evs, err := s.inQuery(ctx, eventsByIDSQL, ids, true)
	if err != nil {
		return nil, fmt.Errorf("stored events: %w", err)
	}
	return evs, nil
}

// eventTimesSQL reads an event's time from its row, shown or not, or from
// its tombstone once it is deleted.
const eventTimesSQL = `SELECT event_id, origin_ts FROM events WHERE idh(event_id) IN (%[2]s) AND event_id IN (%[1]s)
	UNION ALL SELECT event_id, origin_ts FROM tombstones WHERE event_id IN (%[1]s) AND origin_ts IS NOT NULL`

// EventTimes returns the origin_server_ts of each of the given events the
// store knows, whether it is shown, hidden (expired, opted out) or deleted
// (from its tombstone). It is for deleting what may no longer be shown:
// the search index names a message's document by its time, and neither
// EventsByID (which screens) nor a deleted row can give it. An event
// deleted before tombstones kept times is absent.
func (s *Store) EventTimes(ctx context.Context, ids []id.EventID) (map[id.EventID]int64, error) {
	out := make(map[id.EventID]int64, len(ids))
	err := s.inRows(ctx, eventTimesSQL, ids, func(rows *sql.Rows) error {
		var ev string
		var ts int64
		if err := rows.Scan(&ev, &ts); err != nil {
			return err
		}
		out[id.EventID(ev)] = ts
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("event times: %w", err)
	}
	return out, nil
}

// inRows runs query (with %[1]s and %[2]s as inQuery's) over ids in
// chunks, each under the read timeout, and calls scan for each row: the
// reads by a list of IDs of something other than events.
func (s *Store) inRows(ctx context.Context, query string, ids []id.EventID, scan func(*sql.Rows) error) error {
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerQuery)
		list, args, err := idList(s.dialect, ids[:n])
		if err != nil {
			return err
		}
		if err := s.scanRows(ctx, fmt.Sprintf(query, list, idhList(s.dialect, list)), args, scan); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (s *Store) scanRows(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StateEvents returns every stored state event of a room in timeline order.
func (s *Store) StateEvents(ctx context.Context, roomID id.RoomID) ([]Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout) // a big room has many members
	defer cancel()
	evs, err := s.queryEvents(ctx, stateEventsSQL, string(roomID))
	if err != nil {
		return nil, fmt.Errorf("state events of %s: %w", roomID, err)
	}
	return evs, nil
}

// RedactionOf returns the applied redaction of an event; ErrNotFound if the
// event is not redacted.
func (s *Store) RedactionOf(ctx context.Context, target id.EventID) (Redaction, error) {
	rs, err := s.RedactionsOf(ctx, []id.EventID{target})
	if err != nil {
		return Redaction{}, err
	}
	r, ok := rs[target]
	if !ok {
		return Redaction{}, fmt.Errorf("redaction of %s: %w", target, ErrNotFound)
	}
	return r, nil
}

// RedactionTarget returns the event the redaction redactionID redacts as
// the store read it on storing it: by the room's version
// (event.RedactsTargetIn), where a read of the event alone (Event.Redacts)
// cannot tell a pre-v11 room's top-level target from a content.redacts
// anyone may fill. ErrNotFound if the store holds no such redaction.
func (s *Store) RedactionTarget(ctx context.Context, redactionID id.EventID) (id.EventID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var target string
	err := s.queryRow(ctx, `SELECT target_id FROM redactions WHERE redaction_id = $1`, string(redactionID)).Scan(&target)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("redaction %s: %w", redactionID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("redaction %s: %w", redactionID, err)
	}
	return id.EventID(target), nil
}

// RedactionsOf returns the applied redaction (the first applied) of each
// of the events that has one, with a query per few hundred events.
func (s *Store) RedactionsOf(ctx context.Context, targets []id.EventID) (map[id.EventID]Redaction, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	_, optouts, err := s.consentView(ctx)
	if err != nil {
		return nil, fmt.Errorf("redactions: %w", err)
	}
	out := make(map[id.EventID]Redaction, len(targets))
	for len(targets) > 0 {
		n := min(len(targets), maxIDsPerQuery)
		list, args, err := idList(s.dialect, targets[:n])
		if err != nil {
			return nil, fmt.Errorf("redactions: %w", err)
		}
		rows, err := s.query(ctx, fmt.Sprintf(redactionsOfSQL, list), args...)
		if err != nil {
			return nil, fmt.Errorf("redactions: %w", err)
		}
		for rows.Next() {
			var r Redaction
			var redID, targetID, roomID, sender string
			var ts, received int64
			var applied sql.NullInt64
			if err := rows.Scan(&redID, &targetID, &roomID, &sender, &r.Reason, &ts, &received, &applied, &r.Rejected); err != nil {
				rows.Close()
				return nil, fmt.Errorf("redactions: %w", err)
			}
			if _, seen := out[id.EventID(targetID)]; seen {
				continue // the first applied one counts
			}
			r.RedactionID, r.TargetID, r.RoomID, r.Sender = id.EventID(redID), id.EventID(targetID), id.RoomID(roomID), id.UserID(sender)
			r.Kind = redactionKindOf(redID)
			r.TS, r.ReceivedAt = time.UnixMilli(ts).UTC(), time.UnixMilli(received).UTC()
			if applied.Valid {
				r.AppliedAt = time.UnixMilli(applied.Int64).UTC()
			}
			withdrawnReason(&r, optouts)
			out[r.TargetID] = r
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("redactions: %w", err)
		}
		targets = targets[n:]
	}
	return out, nil
}

// Changes returns up to limit change-feed entries after position after.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]Change, error) {
	out, err := s.changes(ctx, changesSQL, after, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("changes after %d: %w", after, err)
	}
	return out, nil
}

// ChangesFrom returns the change at position from (if the feed holds one)
// and up to limit-1 entries after it, read at once: a reader that
// remembers the change it stopped at (Change.Mark) learns in the same
// read whether the feed still holds it there, or whether the positions
// after it were given to other changes (a database restored from an
// older backup, a failover to a replica that lacked the last commits),
// which it would otherwise skip.
func (s *Store) ChangesFrom(ctx context.Context, from int64, limit int) ([]Change, error) {
	out, err := s.changes(ctx, changesFromSQL, from, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("changes from %d: %w", from, err)
	}
	return out, nil
}

// LastChangeWith returns the feed's last change (ok false for an empty
// feed) and, read in the same statement, the changes the feed holds at
// positions a and b: a reader checks that the feed still holds what it
// read as it takes the feed's last change as where its state stands.
func (s *Store) LastChangeWith(ctx context.Context, a, b int64) (last Change, ok bool, at map[int64]Change, err error) {
	cs, err := s.changes(ctx, lastChangeWithSQL, a, b)
	if err != nil {
		return Change{}, false, nil, fmt.Errorf("the change feed's last change: %w", err)
	}
	at = make(map[int64]Change, len(cs))
	for _, c := range cs {
		at[c.Pos] = c
	}
	if len(cs) == 0 {
		return Change{}, false, at, nil
	}
	return cs[len(cs)-1], true, at, nil
}

// changes runs a query of Change rows with its two arguments.
func (s *Store) changes(ctx context.Context, query string, pos, limit int64) ([]Change, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, query, pos, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var kind, room, ev, user string
		var at int64
		if err := rows.Scan(&c.Pos, &kind, &room, &ev, &at, &user); err != nil {
			return nil, err
		}
		c.Kind, c.RoomID, c.EventID, c.At = ChangeKind(kind), id.RoomID(room), id.EventID(ev), time.UnixMilli(at).UTC()
		c.UserID = id.UserID(user)
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountEvents returns how many events the archive holds.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var n int64
	if err := s.db.QueryRowContext(ctx, countSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// RoomRedaction is an applied redaction as moderators see it, with what the
// archive knows of its target.
type RoomRedaction struct {
	Redaction
	TargetType   string
	TargetSender id.UserID
	TargetTS     time.Time
}

const roomRedactionsSQL = `SELECT r.redaction_id, r.target_id, r.room_id, r.sender, r.reason, r.origin_ts, r.received_at,
		r.applied_at, e.type, e.sender, e.origin_ts
	FROM redactions r JOIN events e ON idh(e.event_id) = idh(r.target_id) AND e.event_id = r.target_id
	WHERE r.room_id = $1 AND r.applied_at IS NOT NULL AND e.public
		AND (r.origin_ts < $2 OR (r.origin_ts = $2 AND r.redaction_id < $3))
		AND (e.origin_ts >= $5 OR e.state_key IS NOT NULL)
	ORDER BY r.origin_ts DESC, r.redaction_id DESC LIMIT $4`

// RoomRedactions lists a room's applied redactions of public events, newest
// first, at most limit, those before the position (before, beforeID): sent
// before that time (ms; 0 for now), or at that time with a smaller
// redaction ID (the order's tie-breaker, so a page boundary inside one
// millisecond skips nothing). A redaction of a message the room's
// retention has expired is not listed, as the message is not shown:
// until the purge deleted it, the list named it, its sender and time.
func (s *Store) RoomRedactions(ctx context.Context, roomID id.RoomID, before int64, beforeID id.EventID, limit int) ([]RoomRedaction, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if before <= 0 {
		before = 1 << 62
	}
	roomMax, optouts, err := s.consentView(ctx)
	if err != nil {
		return nil, fmt.Errorf("redactions of %s: %w", roomID, err)
	}
	cut := s.expiredBefore(roomMax, roomID)
	rows, err := s.db.QueryContext(ctx, s.dbForm(roomRedactionsSQL), string(roomID), before, string(beforeID), limit, cut)
	if err != nil {
		return nil, fmt.Errorf("redactions of %s: %w", roomID, err)
	}
	defer rows.Close()
	var out []RoomRedaction
	for rows.Next() {
		var r RoomRedaction
		var redID, targetID, room, sender, targetSender string
		var ts, received, applied, targetTS int64
		if err := rows.Scan(&redID, &targetID, &room, &sender, &r.Reason, &ts, &received, &applied,
			&r.TargetType, &targetSender, &targetTS); err != nil {
			return nil, fmt.Errorf("redactions of %s: %w", roomID, err)
		}
		r.RedactionID, r.TargetID, r.RoomID, r.Sender = id.EventID(redID), id.EventID(targetID), id.RoomID(room), id.UserID(sender)
		r.Kind = redactionKindOf(redID)
		r.TS, r.ReceivedAt, r.AppliedAt = time.UnixMilli(ts).UTC(), time.UnixMilli(received).UTC(), time.UnixMilli(applied).UTC()
		r.TargetSender, r.TargetTS = id.UserID(targetSender), time.UnixMilli(targetTS).UTC()
		withdrawnReason(&r.Redaction, optouts)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Paged in timeline order, which the (room_id, origin_ts, nid) index serves
// without sorting. The position is a bound the index scan can start at
// (origin_ts >= $2, and the row value on events_room_ts), not an OR, with
// which PostgreSQL walked the room from its start for every page (a page
// late in the 1M replay's busiest room: 40,000 buffers read, 28 now).
const roomMessagesSQL = `SELECT ` + eventColumns + ` FROM events
	WHERE room_id = $1 AND origin_ts >= $2 AND (origin_ts, nid) > ($2, $3)
	  AND ` + readableSQL + `
	ORDER BY origin_ts, nid LIMIT $4`

const senderMessagesSQL = `SELECT ` + eventColumns + ` FROM events
	WHERE sender = $1 AND origin_ts >= $2 AND (origin_ts, nid) > ($2, $3)
	  AND ` + readableSQL + `
	ORDER BY origin_ts, nid LIMIT $4`

// SenderMessages pages through a user's messages and polls in every room,
// like RoomMessages.
func (s *Store) SenderMessages(ctx context.Context, user id.UserID, after *Event, limit int) ([]Event, error) {
	return s.pageMessages(ctx, senderMessagesSQL, string(user), after, limit)
}

// RoomMessages pages through what search may hold of a room
// (Event.Readable: its timeline messages and the starts of its polls;
// public or not, redacted or not, expired or not: Expired says) in
// timeline order, after the given event (nil for the start).
func (s *Store) RoomMessages(ctx context.Context, roomID id.RoomID, after *Event, limit int) ([]Event, error) {
	return s.pageMessages(ctx, roomMessagesSQL, string(roomID), after, limit)
}

// pageMessages runs a message-paging query (key, then the position after
// which to start, then the limit), keeping expired messages marked.
func (s *Store) pageMessages(ctx context.Context, query, key string, after *Event, limit int) ([]Event, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	ts, nid := int64(-1), int64(0)
	if after != nil {
		ts, nid = after.OriginTS, after.NID
	}
	evs, err := s.queryEvents(ctx, query, key, ts, nid, limit)
	if err != nil {
		return nil, fmt.Errorf("messages of %s: %w", key, err)
	}
	return s.screen(ctx, evs, true)
}

// FeedHead returns the newest change-feed position (0 for an empty feed),
// for readiness checks and index-lag metrics.
func (s *Store) FeedHead(ctx context.Context) (int64, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var head int64
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(pos), 0) FROM changes`).Scan(&head); err != nil {
		return 0, fmt.Errorf("change-feed head: %w", err)
	}
	return head, nil
}
