package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

const (
	currentStateSQL = `SELECT raw FROM events
		WHERE room_id = $1 AND type = $2 AND state_key = $3 AND ` + sentInTimeSQL + `
		ORDER BY origin_ts DESC, nid DESC LIMIT 1`
	currentStateIDSQL = `SELECT event_id FROM events
		WHERE room_id = $1 AND type = $2 AND state_key = $3 AND ` + sentInTimeSQL + `
		ORDER BY origin_ts DESC, nid DESC LIMIT 1`
	// Joins imported from IRC logs (event IDs "$irc-…", irclog.EventID)
	// are history, not members: the nicks never joined the Matrix room, and
	// counted they would outnumber its servers in matrix.to via links.
	memberEventsSQL = `SELECT state_key, raw FROM events
		WHERE room_id = $1 AND type = 'm.room.member' AND state_key IS NOT NULL
		  AND event_id NOT LIKE '$irc-%' AND ` + sentInTimeSQL + `
		ORDER BY state_key, origin_ts, nid`
)

// CurrentState returns the content of the room's latest state event
// (type, stateKey); ErrNotFound if there is none.
func (s *Store) CurrentState(ctx context.Context, roomID id.RoomID, typ, stateKey string) (json.RawMessage, error) {
	var raw string
	if err := s.currentState(ctx, currentStateSQL, roomID, typ, stateKey, &raw); err != nil {
		return nil, err
	}
	return event.ContentOf([]byte(raw)), nil
}

// CurrentStateID returns the ID of the room's latest state event (type,
// stateKey), for callers that must know which event is in force;
// ErrNotFound if there is none. It reads the column, parsing nothing, so
// no stored JSON can make it fail.
func (s *Store) CurrentStateID(ctx context.Context, roomID id.RoomID, typ, stateKey string) (id.EventID, error) {
	var evID string
	if err := s.currentState(ctx, currentStateIDSQL, roomID, typ, stateKey, &evID); err != nil {
		return "", err
	}
	return id.EventID(evID), nil
}

func (s *Store) currentState(ctx context.Context, query string, roomID id.RoomID, typ, stateKey string, dst *string) error {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	err := s.queryRow(ctx, query, string(roomID), typ, stateKey).Scan(dst)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("state %s/%s of %s: %w", typ, stateKey, roomID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("state %s/%s of %s: %w", typ, stateKey, roomID, err)
	}
	return nil
}

// JoinedMembers returns the users whose latest membership in the room is
// "join", as far as the archive has seen, leaving out what IRC imports
// recorded. It reads every member event the room has had.
func (s *Store) JoinedMembers(ctx context.Context, roomID id.RoomID) ([]id.UserID, error) {
	members, _, err := s.joinedMembers(ctx, roomID, -1)
	return members, err
}

// JoinedMembersUpTo is JoinedMembers for a room of at most limit member
// events: complete reports whether the room has no more than that. A room
// with more gets no members and complete false, having cost the reading
// of limit+1 rows, not of all of them (a busy IRC channel of the 1M replay
// has 17,778 member events: 0.1 s on either database).
func (s *Store) JoinedMembersUpTo(ctx context.Context, roomID id.RoomID, limit int) (members []id.UserID, complete bool, err error) {
	if limit < 0 {
		return nil, false, fmt.Errorf("members of %s: a bound of %d", roomID, limit)
	}
	return s.joinedMembers(ctx, roomID, limit)
}

// joinedMembers is JoinedMembers reading at most limit+1 member events, or
// all of them when limit is negative.
func (s *Store) joinedMembers(ctx context.Context, roomID id.RoomID, limit int) ([]id.UserID, bool, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	query, args := memberEventsSQL, []any{string(roomID)}
	if limit >= 0 {
		query, args = memberEventsSQL+` LIMIT $2`, append(args, limit+1)
	}
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("members of %s: %w", roomID, err)
	}
	defer rows.Close()
	var out []id.UserID
	var last string
	var lastJoined bool
	flush := func() {
		if last != "" && lastJoined {
			out = append(out, id.UserID(last))
		}
	}
	read := 0
	for rows.Next() {
		if read++; limit >= 0 && read > limit {
			return nil, false, nil
		}
		var user, content string
		if err := rows.Scan(&user, &content); err != nil {
			return nil, false, fmt.Errorf("members of %s: %w", roomID, err)
		}
		if user != last {
			flush()
			last = user
		}
		lastJoined = event.StringField(event.ContentOf([]byte(content)), "membership") == "join"
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("members of %s: %w", roomID, err)
	}
	flush()
	return out, true, nil
}

// sentInTimeSQL (sentInTimeOf for an alias) says an event was sent no
// later than an hour after the archive received it: a room's current
// state (its summary, CurrentState, its retention policy, its archive
// controls, its members, a space's children) is its latest event by the
// time sent among those alone. A
// server stamps its events as it likes, and an admin's event stamped in
// 2100 was the room's current state for good: a history made
// world-readable then outlived the owner's later "joined" (the room
// stayed listed), a "joined" hid the room whatever the owner set after,
// a retention policy or archive controls outlived their change. No event
// was sent after it arrived; the hour is for a sender's clock running
// fast. A filter, not an order: the (room, type, state_key, origin_ts,
// nid) index still gives the latest first, and only events stamped ahead
// are passed over. State as of a time (stateAt) is by the time sent.
const sentInTimeSQL = `(origin_ts <= received_at + 3600000)`

// sentAheadMS is sentInTimeSQL's hour: how far ahead of its arrival an
// event may be stamped and be believed, a sender's clock running fast.
const sentAheadMS = 3600000

// sentInTime is sentInTimeSQL in Go: whether an event stamped ts, which
// the archive received at received (ms), may have been sent then.
func sentInTime(ts, received int64) bool { return ts <= received+sentAheadMS }

// unpinRooms takes back the last message time of each room that history
// read back before migration 036 stamped ahead of its arrival (its
// latest readable message not sent in time, or a time ahead of now,
// whose message has been deleted since): the latest of its messages that
// were, as the writes keep it since (writer.put).
func unpinRooms(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE rooms SET last_ts = COALESCE((SELECT MAX(origin_ts) FROM events
			WHERE events.room_id = rooms.room_id AND public AND `+readableSQL+` AND `+sentInTimeSQL+`), 0)
		WHERE last_ts > $1 OR EXISTS (SELECT 1 FROM events WHERE events.room_id = rooms.room_id AND events.origin_ts >= rooms.last_ts
			AND public AND `+readableSQL+` AND NOT `+sentInTimeSQL+`)`, time.Now().UnixMilli()+sentAheadMS)
	return err
}

func sentInTimeOf(alias string) string {
	return "(" + alias + "origin_ts <= " + alias + "received_at + 3600000)"
}

// Only public state: a name set while the room was private must not appear
// in a public "X changed their name to Y" line.
const previousStateSQL = `SELECT raw FROM events
	WHERE room_id = $1 AND type = $2 AND state_key = $3 AND public
	  AND origin_ts <= $4 AND (origin_ts, nid) < ($4, $5)
	ORDER BY origin_ts DESC, nid DESC LIMIT 1`

// PreviousState returns the content of the state event that ev replaced
// (same room, type and state key, just before it); ErrNotFound if none.
func (s *Store) PreviousState(ctx context.Context, ev Event) (json.RawMessage, error) {
	if ev.StateKey == nil {
		return nil, fmt.Errorf("previous state of %s: not a state event: %w", ev.ID, ErrNotFound)
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var content string
	err := s.queryRow(ctx, previousStateSQL, string(ev.RoomID), ev.Type, *ev.StateKey, ev.OriginTS, ev.NID).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("previous state of %s: %w", ev.ID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("previous state of %s: %w", ev.ID, err)
	}
	c := event.ContentOf([]byte(content))
	if ev.Type == event.TypeMember {
		// The name a line like "X changed their name to Y" reads from
		// the previous member event is screened like the event itself.
		_, optouts, err := s.consentView(ctx)
		if err != nil {
			return nil, fmt.Errorf("previous state of %s: %w", ev.ID, err)
		}
		c = previousShown(c, optouts[id.UserID(*ev.StateKey)])
	}
	return c, nil
}
